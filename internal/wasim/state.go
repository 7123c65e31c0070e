package wasim

import (
	"time"

	"go.mau.fi/whatsmeow/types"
)

// device is a linked companion device as the server remembers it after
// pairing: enough to recognise its login and to hand out its keys.
type device struct {
	jid            types.JID
	lid            types.JID
	phone          *Phone
	noisePub       []byte
	identityPub    []byte
	registrationID uint32
	signedPreKey   preKeyRecord
	preKeys        map[uint32][]byte
}

// preKeyRecord is a public prekey as uploaded by a client.
type preKeyRecord struct {
	id  uint32
	pub []byte
	sig []byte
}

// tempBan is a temporary ban set with TempBan.
type tempBan struct {
	code  int
	until time.Time
}

// matchDevices resolves a fault target: a device JID names that device, a
// user JID (device 0) names every linked device of the account. Callers hold
// s.mu.
func (s *Simulator) matchDevices(jid types.JID) []types.JID {
	if jid.Device != 0 {
		if _, ok := s.devices[jid]; ok {
			return []types.JID{jid}
		}
		if _, ok := s.live[jid]; ok {
			return []types.JID{jid}
		}
		return nil
	}
	var out []types.JID
	for dj, d := range s.devices {
		if dj.User == jid.User || (jid.Server == types.HiddenUserServer && d.lid.User == jid.User) {
			out = append(out, dj)
		}
	}
	return out
}

// Devices lists the companion devices linked to the account of jid.
func (s *Simulator) Devices(jid types.JID) []types.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.matchDevices(jid.ToNonAD())
}

// Connected reports whether a device has a logged-in connection right now.
func (s *Simulator) Connected(jid types.JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.matchDevices(jid) {
		if s.live[d] != nil {
			return true
		}
	}
	return false
}

// ConnectedDevice is Connected for a JID in its string form; an unreadable
// JID is not connected.
func (s *Simulator) ConnectedDevice(jid string) bool {
	parsed, err := types.ParseJID(jid)
	return err == nil && s.Connected(parsed)
}
