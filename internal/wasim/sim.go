package wasim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
)

// Options configures a Simulator. The zero value is usable.
type Options struct {
	// Logger receives the simulator's protocol log; the zero value discards it.
	Logger zerolog.Logger
	// Addr is the loopback address to listen on; empty means 127.0.0.1:0.
	Addr string
	// FirstNumber is the first phone number handed to a simulated phone,
	// digits only; empty means 15550100001. Numbers count up from it.
	FirstNumber string
	// RootKey, if set, is the Curve25519 private key the certificate chain
	// is signed with. whatsmeow trusts one root per process, so several
	// simulators in one process share it; nil generates a fresh root.
	RootKey *[32]byte
	// State, if set, is a Snapshot of an earlier simulator to continue
	// from: its keys (RootKey is then ignored), phones and devices.
	State *State
}

// Simulator is an in-process WhatsApp multi-device server with simulated
// phones. It speaks the real web protocol, so an unmodified whatsmeow client
// pairs, logs in and sends through it; faults are injected on command.
type Simulator struct {
	log    zerolog.Logger
	keys   *serverKeys
	ln     net.Listener
	srv    *http.Server
	client *http.Client
	dialed *clientConns
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seq    atomic.Uint64

	mu     sync.Mutex
	closed bool
	world  // everything below is guarded by mu
}

// world is the simulator's memory of accounts, devices, groups and faults.
// It lives as long as the Simulator, so a client that reconnects with a
// stored device is recognised without a new QR.
type world struct {
	nextNumber  uint64
	nextLID     uint64
	phones      map[string]*Phone // by phone number user part
	phonesByLID map[string]*Phone
	devices     map[types.JID]*device // companion devices by device JID
	live        map[types.JID]*conn   // logged-in connections by device JID
	conns       map[*conn]struct{}
	refs        map[string]*conn // QR refs waiting for a scan
	linkCodes   map[string]*linkCodeSession
	groups      map[types.JID]*group
	groupLimits groupLimits // rate-overlimit on command (groupscrape.go)
	sent        []SentMessage
	bans        map[types.JID]tempBan
	rejects     map[types.JID]int
	reachout    map[string]reachoutLock // by account user; reachout.go
	hsDelay     time.Duration
	refuse      bool
	counts      map[types.JID]*DeviceCounts // logins per device (shared.go)
}

// Start generates the simulator's keys and starts serving the websocket over
// TLS on opts.Addr. ctx bounds the simulator's life, as does Close.
func Start(ctx context.Context, opts Options) (*Simulator, error) {
	first := uint64(15550100001)
	if opts.FirstNumber != "" {
		n, err := strconv.ParseUint(opts.FirstNumber, 10, 64)
		if err != nil || len(opts.FirstNumber) < 8 {
			return nil, fmt.Errorf("wasim: invalid FirstNumber %q", opts.FirstNumber)
		}
		first = n
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	k, err := newServerKeys(opts.RootKey)
	if err != nil {
		return nil, fmt.Errorf("wasim: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wasim: listen: %w", err)
	}
	s := &Simulator{
		log:  opts.Logger.With().Str("component", "wasim").Logger(),
		keys: k,
		ln:   ln,
		world: world{
			nextNumber:  first,
			nextLID:     100000000000001,
			phones:      map[string]*Phone{},
			phonesByLID: map[string]*Phone{},
			devices:     map[types.JID]*device{},
			live:        map[types.JID]*conn{},
			conns:       map[*conn]struct{}{},
			refs:        map[string]*conn{},
			linkCodes:   map[string]*linkCodeSession{},
			groups:      map[types.JID]*group{},
			bans:        map[types.JID]tempBan{},
			rejects:     map[types.JID]int{},
		},
	}
	if err := s.restore(opts.State); err != nil { // persist.go
		_ = ln.Close()
		return nil, fmt.Errorf("wasim: %w", err)
	}
	k = s.keys
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, s.Close)
	s.client = s.newHTTPClient()
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.serveWebsocket)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          nil,
	}
	tlsLn := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{k.tlsCert},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
	go func() {
		if err := s.srv.Serve(tlsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("serve stopped")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("simulator listening")
	return s, nil
}

// Close stops the listener, cuts every connection, waits for the server's
// goroutines and then (a few seconds at most) for every client connected
// through HTTPClient to notice. It is safe to call more than once.
//
// Under -race, prefer ending a client by cancelling the context given to
// ConnectContext, or by Close, over Client.Disconnect on a live socket:
// whatsmeow's FrameSocket reads its closed flag and disconnect handler
// without a lock, and a local Disconnect can race its read loop.
func (s *Simulator) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.srv.Close()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	if tr, ok := s.client.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	if !s.dialed.wait(clientSideWait) {
		s.log.Warn().Msg("some clients did not close their sockets")
	}
}

// Addr is the address the simulator listens on.
func (s *Simulator) Addr() string { return s.ln.Addr().String() }

// RootPublicKey is the key the simulator's Noise certificate chain is signed
// with. whatsmeow only trusts its package variable WACertPubKey, so the caller
// assigns it once per process before connecting clients.
func (s *Simulator) RootPublicKey() [32]byte { return *s.keys.root.Pub }

// HTTPClient dials the simulator whatever host is asked for and trusts only
// the simulator's own TLS certificate. Give it to a whatsmeow client with
// SetWebsocketHTTPClient and SetPreLoginHTTPClient (or call Configure).
func (s *Simulator) HTTPClient() *http.Client { return s.client }

// Configure points cli's websocket at the simulator. It does not touch
// whatsmeow.WACertPubKey, which is process-wide.
func (s *Simulator) Configure(cli *whatsmeow.Client) {
	cli.SetWebsocketHTTPClient(s.client)
	cli.SetPreLoginHTTPClient(s.client)
}

func (s *Simulator) newHTTPClient() *http.Client {
	addr := s.ln.Addr().String()
	s.dialed = &clientConns{open: map[*trackedConn]struct{}{}}
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return s.dialed.dial(ctx, addr)
			},
			TLSClientConfig: &tls.Config{
				RootCAs:    s.keys.tlsRoots,
				ServerName: tlsServerName,
				MinVersion: tls.VersionTLS12,
			},
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        1,
		},
	}
}

// newID makes a request id for server-initiated IQs and stanza ids.
func (s *Simulator) newID() string {
	return "wasim-" + strconv.FormatUint(s.seq.Add(1), 10)
}
