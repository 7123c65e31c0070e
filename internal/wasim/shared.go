package wasim

import (
	"encoding/pem"
	"sort"

	"go.mau.fi/whatsmeow/types"
)

// This file has what a simulator run as a process of its own (wagraph
// simulator, internal/simserver) needs besides the in-process API: the TLS
// certificate for clients in other processes, phones looked up by number,
// and a listing of every linked device with its connection counts.

// DeviceCounts counts one device's logins since the simulator started.
type DeviceCounts struct {
	// Logins is how many times the device logged in (connected with its
	// stored identity and got <success>).
	Logins int
	// Replaced is how many of those logins replaced a connection of the
	// same device that was still open: WhatsApp's "stream replaced", the
	// sign that two clients ran one session at once.
	Replaced int
}

// DeviceInfo describes a linked companion device for listings.
type DeviceInfo struct {
	// JID and LID are the device's phone-number and hidden-user JIDs.
	JID, LID types.JID
	// Phone is the number of the phone it is linked to (+1555…).
	Phone string
	// Connected is whether the device has a logged-in connection now.
	Connected bool
	DeviceCounts
}

// countLoginLocked records a login of jid; replaced says it replaced an
// open connection of the same device. Callers hold s.mu.
func (s *Simulator) countLoginLocked(jid types.JID, replaced bool) {
	if s.counts == nil {
		s.counts = map[types.JID]*DeviceCounts{}
	}
	c := s.counts[jid]
	if c == nil {
		c = &DeviceCounts{}
		s.counts[jid] = c
	}
	c.Logins++
	if replaced {
		c.Replaced++
	}
}

// DeviceList lists every linked device, ordered by JID, with whether it is
// connected and its login counts.
func (s *Simulator) DeviceList() []DeviceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeviceInfo, 0, len(s.devices))
	for jid, d := range s.devices {
		info := DeviceInfo{JID: jid, LID: d.lid, Phone: d.phone.Number, Connected: s.live[jid] != nil}
		if c := s.counts[jid]; c != nil {
			info.DeviceCounts = *c
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID.String() < out[j].JID.String() })
	return out
}

// Counts returns the login counts of the devices jid names (a device JID,
// or a user JID for all of the account's devices), summed; devices that
// were logged out keep their counts.
func (s *Simulator) Counts(jid types.JID) DeviceCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum DeviceCounts
	for dj, c := range s.counts {
		if dj == jid || (jid.Device == 0 && dj.User == jid.User && dj.Server == jid.Server) {
			sum.Logins += c.Logins
			sum.Replaced += c.Replaced
		}
	}
	return sum
}

// Phone returns the simulated phone with a number (E.164, any formatting),
// or nil when there is none.
func (s *Simulator) Phone(number string) *Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phones[digits(number)]
}

// TLSCertificatePEM is the simulator's self-signed TLS certificate in PEM
// form, for clients in other processes to trust (it is valid for
// web.whatsapp.com and loopback).
func (s *Simulator) TLSCertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.keys.tlsCert.Certificate[0]})
}
