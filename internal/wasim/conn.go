package wasim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// errConnClosed is returned to a server-side request whose connection ended
// before the client answered.
var errConnClosed = errors.New("wasim: connection closed")

// streamErrorGrace is how long the server keeps a socket open after a stream
// error or connect failure before cutting it, as WhatsApp does: whatsmeow
// handles the error node on its handler goroutine, and closing at once would
// race it into a plain Disconnected event.
const streamErrorGrace = 300 * time.Millisecond

// conn is one client websocket: the Noise handshake, then login or
// registration, then a read loop that answers the client's nodes.
type conn struct {
	sim    *Simulator
	ws     *websocket.Conn
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	frames frameReader

	transport    *noiseTransport
	writeMu      sync.Mutex
	clientStatic []byte
	reg          *waWa6.ClientPayload_DevicePairingRegistrationData

	// device is set once at login, before the read loop starts.
	device *device

	pendingMu sync.Mutex
	pending   map[string]chan *waBinary.Node
	closeOnce sync.Once
}

func newConn(s *Simulator, ws *websocket.Conn) *conn {
	c := &conn{
		sim:     s,
		ws:      ws,
		log:     s.log,
		frames:  frameReader{ws: ws},
		pending: map[string]chan *waBinary.Node{},
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.close()
	payload, err := c.handshake()
	if err != nil {
		c.log.Debug().Err(err).Msg("handshake failed")
		return
	}
	if payload.Username != nil {
		if !c.login(payload) {
			c.readUntilClosed()
			return
		}
	} else if err := c.register(payload); err != nil {
		c.log.Warn().Err(err).Msg("registration failed")
		return
	}
	for {
		node, err := c.readNode()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Debug().Err(err).Msg("connection ended")
			}
			return
		}
		c.handle(node)
	}
}

// handshake runs the responder side of the Noise XX handshake and returns
// the client's login or registration payload.
func (c *conn) handshake() (*waWa6.ClientPayload, error) {
	first, err := c.frames.next(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("read client hello: %w", err)
	}
	var hello waWa6.HandshakeMessage
	if err := proto.Unmarshal(first, &hello); err != nil {
		return nil, fmt.Errorf("unmarshal client hello: %w", err)
	}
	clientEphemeral := hello.GetClientHello().GetEphemeral()
	if len(clientEphemeral) != 32 {
		return nil, errors.New("client hello without a 32-byte ephemeral key")
	}
	ns, err := newNoiseState(c.frames.header)
	if err != nil {
		return nil, err
	}
	ns.authenticate(clientEphemeral)
	ephemeral := keys.NewKeyPair()
	ns.authenticate(ephemeral.Pub[:])
	if err := ns.mix(ephemeral.Priv[:], clientEphemeral); err != nil {
		return nil, err
	}
	static := ns.encrypt(c.sim.keys.static.Pub[:])
	if err := ns.mix(c.sim.keys.static.Priv[:], clientEphemeral); err != nil {
		return nil, err
	}
	cert := ns.encrypt(c.sim.keys.certChain)

	c.sim.mu.Lock()
	delay := c.sim.hsDelay
	c.sim.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
	serverHello, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: ephemeral.Pub[:], Static: static, Payload: cert,
	}})
	if err != nil {
		return nil, fmt.Errorf("marshal server hello: %w", err)
	}
	if err := c.writeFrame(serverHello); err != nil {
		return nil, fmt.Errorf("send server hello: %w", err)
	}

	finishFrame, err := c.frames.next(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("read client finish: %w", err)
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(finishFrame, &finish); err != nil {
		return nil, fmt.Errorf("unmarshal client finish: %w", err)
	}
	clientStatic, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil {
		return nil, err
	} else if len(clientStatic) != 32 {
		return nil, fmt.Errorf("client static key is %d bytes", len(clientStatic))
	}
	if err := ns.mix(ephemeral.Priv[:], clientStatic); err != nil {
		return nil, err
	}
	payloadBytes, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return nil, err
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(payloadBytes, &payload); err != nil {
		return nil, fmt.Errorf("unmarshal client payload: %w", err)
	}
	if c.transport, err = ns.finish(); err != nil {
		return nil, err
	}
	c.clientStatic = clientStatic
	return &payload, nil
}

// readNode reads, decrypts and decodes the next node from the client.
func (c *conn) readNode() (*waBinary.Node, error) {
	frame, err := c.frames.next(c.ctx)
	if err != nil {
		return nil, err
	}
	plain, err := c.transport.open(frame)
	if err != nil {
		return nil, err
	}
	data, err := waBinary.Unpack(plain)
	if err != nil {
		return nil, fmt.Errorf("unpack node: %w", err)
	}
	node, err := waBinary.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	if c.log.GetLevel() <= zerolog.TraceLevel {
		c.log.Trace().Str("node", node.XMLString()).Msg("recv")
	}
	return node, nil
}

// readUntilClosed drains the socket after a connect failure so that the
// client, not a cut, ends it; the grace timer cuts it otherwise.
func (c *conn) readUntilClosed() {
	for {
		if _, err := c.frames.next(c.ctx); err != nil {
			return
		}
	}
}

// writeFrame sends one raw frame; used before the transport keys exist.
func (c *conn) writeFrame(data []byte) error {
	framed, err := encodeFrame(data)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.ws.Write(c.ctx, websocket.MessageBinary, framed)
}

// send encodes, encrypts and writes one node.
func (c *conn) send(node waBinary.Node) error {
	payload, err := waBinary.Marshal(node)
	if err != nil {
		return fmt.Errorf("encode node: %w", err)
	}
	if c.log.GetLevel() <= zerolog.TraceLevel {
		c.log.Trace().Str("node", node.XMLString()).Msg("send")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	framed, err := encodeFrame(c.transport.seal(payload))
	if err != nil {
		return err
	}
	return c.ws.Write(c.ctx, websocket.MessageBinary, framed)
}

// request sends a server-initiated IQ and waits for the client's answer.
func (c *conn) request(ctx context.Context, node waBinary.Node) (*waBinary.Node, error) {
	id := c.sim.newID()
	if node.Attrs == nil {
		node.Attrs = waBinary.Attrs{}
	}
	node.Attrs["id"] = id
	ch := make(chan *waBinary.Node, 1)
	c.pendingMu.Lock()
	c.pending[id] = ch
	c.pendingMu.Unlock()
	defer func() {
		c.pendingMu.Lock()
		delete(c.pending, id)
		c.pendingMu.Unlock()
	}()
	if err := c.send(node); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, errConnClosed
	}
}

// deliver hands an IQ answer to the request waiting for it.
func (c *conn) deliver(node *waBinary.Node) bool {
	id, _ := node.Attrs["id"].(string)
	c.pendingMu.Lock()
	ch, ok := c.pending[id]
	c.pendingMu.Unlock()
	if ok {
		select {
		case ch <- node:
		default:
		}
	}
	return ok
}

// endWith sends a terminal node (stream error or connect failure) and cuts
// the socket after a short grace, whichever side closes first.
func (c *conn) endWith(node waBinary.Node) {
	if err := c.send(node); err != nil {
		c.log.Debug().Err(err).Str("tag", node.Tag).Msg("send terminal node")
	}
	c.detach()
	go func() {
		select {
		case <-time.After(streamErrorGrace):
		case <-c.ctx.Done():
		}
		c.close()
	}()
}

// drop cuts the socket without a word, like a network failure.
func (c *conn) drop() {
	c.close()
}

// detach forgets the connection as a device's live session, so faults and
// sends no longer reach it while it winds down.
func (c *conn) detach() {
	c.sim.mu.Lock()
	defer c.sim.mu.Unlock()
	if c.device != nil && c.sim.live[c.device.jid] == c {
		delete(c.sim.live, c.device.jid)
	}
	c.sim.forgetRefsLocked(c)
}

// close ends the connection and removes every trace of it.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.detach()
		c.sim.mu.Lock()
		delete(c.sim.conns, c)
		c.sim.mu.Unlock()
		c.cancel()
		_ = c.ws.CloseNow()
	})
}

// matchesNoiseKey tells whether the client authenticated with key.
func (c *conn) matchesNoiseKey(key []byte) bool {
	return bytes.Equal(c.clientStatic, key)
}

// serverAttrs returns attributes for a node from the server.
func serverAttrs(kv ...any) waBinary.Attrs {
	attrs := waBinary.Attrs{"from": types.ServerJID}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i].(string)] = kv[i+1]
	}
	return attrs
}
