package wasim

import (
	"errors"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// ErrNoDevice means a fault was aimed at a device the simulator has no
// record or connection of.
var ErrNoDevice = errors.New("wasim: no such device")

// ErrNotConnected means a fault needs a live connection and there is none.
var ErrNotConnected = errors.New("wasim: device not connected")

// liveConns returns the logged-in connections of the devices jid names.
func (s *Simulator) liveConns(jid types.JID) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for _, d := range s.matchDevices(jid) {
		if c := s.live[d]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Drop cuts a device's socket abruptly, like a network failure; whatsmeow
// emits events.Disconnected and reconnects by itself.
func (s *Simulator) Drop(jid types.JID) error {
	conns := s.liveConns(jid)
	if len(conns) == 0 {
		return ErrNotConnected
	}
	for _, c := range conns {
		c.drop()
	}
	return nil
}

// LogOut unlinks a device as if the user removed it on the phone: a
// connected client gets a 401 device_removed stream error
// (events.LoggedOut), and any later login fails with 401.
func (s *Simulator) LogOut(jid types.JID) error {
	s.mu.Lock()
	devs := s.matchDevices(jid)
	var conns []*conn
	for _, d := range devs {
		delete(s.devices, d)
		if c := s.live[d]; c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	if len(devs) == 0 {
		return ErrNoDevice
	}
	for _, c := range conns {
		c.endWith(deviceRemovedNode())
	}
	return nil
}

// ReplaceStream ends a device's connection with the "replaced" conflict
// WhatsApp sends when another client logs in with the same identity
// (events.StreamReplaced; whatsmeow does not reconnect).
func (s *Simulator) ReplaceStream(jid types.JID) error {
	conns := s.liveConns(jid)
	if len(conns) == 0 {
		return ErrNotConnected
	}
	for _, c := range conns {
		c.endWith(replacedNode())
	}
	return nil
}

// TempBan bans a device for expiry with a WhatsApp ban code (e.g. 101, see
// events.TempBanReason). A connected client gets the 402 failure now and
// every login until it expires gets it again (events.TemporaryBan).
func (s *Simulator) TempBan(jid types.JID, code int, expiry time.Duration) error {
	ban := tempBan{code: code, until: time.Now().Add(expiry)}
	s.mu.Lock()
	devs := s.matchDevices(jid)
	var conns []*conn
	for _, d := range devs {
		s.bans[d] = ban
		if c := s.live[d]; c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	if len(devs) == 0 {
		return ErrNoDevice
	}
	for _, c := range conns {
		c.endWith(tempBanNode(ban))
	}
	return nil
}

// LiftBan ends a temporary ban early.
func (s *Simulator) LiftBan(jid types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.matchDevices(jid) {
		delete(s.bans, d)
	}
}

// RejectSends makes the server refuse messages from a device: each send is
// acked with the given error code (463, 479, ...), which whatsmeow returns
// from SendMessage. Code 0 accepts sends again.
func (s *Simulator) RejectSends(jid types.JID, code int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	devs := s.matchDevices(jid)
	if len(devs) == 0 {
		return ErrNoDevice
	}
	for _, d := range devs {
		if code == 0 {
			delete(s.rejects, d)
		} else {
			s.rejects[d] = code
		}
	}
	return nil
}

// SetHandshakeDelay makes the server wait d before answering each client
// hello; beyond whatsmeow's 20 s handshake timeout the connect fails.
func (s *Simulator) SetHandshakeDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hsDelay = d
}

// RefuseHandshakes makes the server answer websocket upgrades with 503
// while refuse is true, so connects fail before the Noise handshake.
func (s *Simulator) RefuseHandshakes(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = refuse
}
