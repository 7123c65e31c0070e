package wasim

import (
	"context"
	"strconv"
	"time"

	"go.mau.fi/libsignal/protocol"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// SentMessage is a message a client sent through the simulator, as the
// server saw it and, where a simulated phone could decrypt it, as the
// recipient read it.
type SentMessage struct {
	// ID is the client's message ID.
	ID string
	// From is the sending companion device.
	From types.JID
	// To is the chat as addressed: a user (phone number or LID) or a group.
	To types.JID
	// At is when the server accepted (or rejected) the message.
	At time.Time
	// Type is the stanza type, e.g. "text" or "media".
	Type string
	// Devices are the recipient devices the client encrypted for.
	Devices []types.JID
	// Body is the decrypted text (conversation or extended text), if any.
	Body string
	// Message is the decrypted protobuf, nil if no simulated phone could
	// read it.
	Message *waE2E.Message
	// ErrorCode is the error the server acked with (see RejectSends), 0 if
	// the message was accepted.
	ErrorCode int
}

// Sent returns the messages sent by a device (device JID) or by any device
// of an account (user JID), oldest first.
func (s *Simulator) Sent(from types.JID) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentMessage
	for _, m := range s.sent {
		if m.From == from || (from.Device == 0 && m.From.User == from.User && m.From.Server == from.Server) {
			out = append(out, m)
		}
	}
	return out
}

// SentTo returns the messages sent to a chat (user or group JID), oldest
// first.
func (s *Simulator) SentTo(chat types.JID) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentMessage
	for _, m := range s.sent {
		if m.To.ToNonAD() == chat.ToNonAD() {
			out = append(out, m)
		}
	}
	return out
}

// handleMessage accepts a message stanza: it records it, lets simulated
// phones decrypt their copies, and acks it (with an error if sends from the
// device are being rejected).
func (c *conn) handleMessage(node *waBinary.Node) {
	if c.device == nil {
		return
	}
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	to := ag.OptionalJIDOrEmpty("to")
	now := time.Now()
	c.sim.mu.Lock()
	code := c.sim.rejects[c.device.jid]
	c.sim.mu.Unlock()

	if ag.OptionalString("category") != "peer" {
		msg := SentMessage{ID: id, From: c.device.jid, To: to, At: now, Type: ag.OptionalString("type"), ErrorCode: code}
		if code == 0 {
			c.readMessage(node, to, &msg)
		}
		c.sim.mu.Lock()
		c.sim.sent = append(c.sim.sent, msg)
		c.sim.mu.Unlock()
		c.log.Debug().Str("id", id).Stringer("to", to).Int("error", code).Str("body", msg.Body).Msg("message sent")
	}

	ack := waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{
		"class": "message",
		"id":    id,
		"from":  to,
		"t":     strconv.FormatInt(now.Unix(), 10),
	}}
	if code != 0 {
		ack.Attrs["error"] = code
	}
	if err := c.send(ack); err != nil {
		c.log.Debug().Err(err).Msg("send ack")
	}
}

// readMessage decrypts the copies addressed to simulated phones' primary
// devices and fills in the message's content.
func (c *conn) readMessage(node *waBinary.Node, to types.JID, msg *SentMessage) {
	ctx := c.ctx
	var groupPhones []*Phone
	participants := node.GetChildByTag("participants")
	for _, p := range participants.GetChildren() {
		dev, ok := p.Attrs["jid"].(types.JID)
		if p.Tag != "to" || !ok {
			continue
		}
		msg.Devices = append(msg.Devices, dev)
		c.sim.mu.Lock()
		phone := c.sim.phoneFor(dev)
		c.sim.mu.Unlock()
		if phone == nil || dev.Device != 0 {
			continue
		}
		enc := p.GetChildByTag("enc")
		content, _ := enc.Content.([]byte)
		plain, err := phone.signal.decrypt(ctx, c.senderAddress(dev), enc.AttrGetter().OptionalString("type"), content)
		if err != nil {
			c.log.Debug().Err(err).Stringer("recipient", dev).Msg("decrypt message")
			continue
		}
		var m waE2E.Message
		if err := proto.Unmarshal(plain, &m); err != nil {
			continue
		}
		if skdm := m.GetSenderKeyDistributionMessage(); skdm != nil && to.Server == types.GroupServer {
			if err := phone.signal.processSenderKey(ctx, c.senderKeyName(to), skdm.GetAxolotlSenderKeyDistributionMessage()); err == nil {
				groupPhones = append(groupPhones, phone)
			}
			continue
		}
		msg.setContent(&m)
	}
	if to.Server == types.GroupServer {
		c.readGroupMessage(ctx, node, to, groupPhones, msg)
	}
}

// readGroupMessage decrypts the sender-key part of a group message with a
// member phone that holds the sender's key.
func (c *conn) readGroupMessage(ctx context.Context, node *waBinary.Node, group types.JID, fresh []*Phone, msg *SentMessage) {
	var content []byte
	for _, child := range node.GetChildren() {
		if child.Tag == "enc" && child.AttrGetter().OptionalString("type") == "skmsg" {
			content, _ = child.Content.([]byte)
		}
	}
	if content == nil {
		return
	}
	c.sim.mu.Lock()
	candidates := fresh
	if g := c.sim.groups[group]; g != nil {
		for _, m := range g.members {
			candidates = append(candidates, m.phone)
		}
	}
	c.sim.mu.Unlock()
	name := c.senderKeyName(group)
	for _, phone := range candidates {
		plain, err := phone.signal.decryptGroup(ctx, name, content)
		if err != nil {
			continue
		}
		var m waE2E.Message
		if proto.Unmarshal(plain, &m) == nil {
			msg.setContent(&m)
			return
		}
	}
}

// setContent fills in the decrypted content; the copy for the sender's own
// phone is wrapped in a DeviceSentMessage, and the first readable copy wins.
func (m *SentMessage) setContent(msg *waE2E.Message) {
	if inner := msg.GetDeviceSentMessage().GetMessage(); inner != nil {
		msg = inner
	}
	if m.Message != nil {
		return
	}
	m.Message = msg
	m.Body = msg.GetConversation()
	if m.Body == "" {
		m.Body = msg.GetExtendedTextMessage().GetText()
	}
}

// senderAddress is the Signal address a recipient keeps its session with
// this device under: the device's LID when the client addressed the
// recipient by LID, its phone-number JID otherwise.
func (c *conn) senderAddress(recipient types.JID) *protocol.SignalAddress {
	if recipient.Server == types.HiddenUserServer {
		return c.device.lid.SignalAddress()
	}
	return c.device.jid.SignalAddress()
}

// senderKeyName names this device's sender key in a group, as whatsmeow
// does (by LID).
func (c *conn) senderKeyName(group types.JID) *protocol.SenderKeyName {
	return protocol.NewSenderKeyName(group.String(), c.device.lid.SignalAddress())
}
