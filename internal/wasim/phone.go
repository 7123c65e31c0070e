package wasim

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/state/record"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Phone is a simulated primary device: the phone that owns a WhatsApp
// account, scans QR codes, enters pairing codes and receives messages.
// Its exported fields never change after creation.
type Phone struct {
	// Number is the account's phone number in E.164 form, e.g. +15550100001.
	Number string
	// JID is the account's phone-number JID (number@s.whatsapp.net).
	JID types.JID
	// LID is the account's hidden-user JID (…@lid).
	LID types.JID
	// Platform is what pair-success reports as the primary's platform.
	Platform string

	identity       *keys.KeyPair
	registrationID uint32
	signedPreKey   *keys.PreKey
	signal         *signalStore

	// guarded by Simulator.mu
	nextDevice uint16
	preKeys    []*keys.PreKey
}

// phonePreKeys is how many one-time prekeys a simulated phone offers; once
// they are used up, bundles go out without one, which Signal allows.
const phonePreKeys = 20

// NewPhone creates a simulated phone with a fresh number and LID, unique in
// this simulator, with its own Signal identity and prekeys so that clients
// can encrypt messages to it.
func (s *Simulator) NewPhone() *Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newPhoneLocked()
}

func (s *Simulator) newPhoneLocked() *Phone {
	return s.adoptPhoneLocked("", "")
}

// adoptPhoneLocked creates a phone with the given number and LID, either of
// which may be empty to take the next fresh one. Callers hold s.mu.
func (s *Simulator) adoptPhoneLocked(number, lid string) *Phone {
	for number == "" || s.phones[number] != nil {
		number = strconv.FormatUint(s.nextNumber, 10)
		s.nextNumber++
	}
	for lid == "" || s.phonesByLID[lid] != nil {
		lid = strconv.FormatUint(s.nextLID, 10)
		s.nextLID++
	}
	p := &Phone{
		Number:         "+" + number,
		JID:            types.NewJID(number, types.DefaultUserServer),
		LID:            types.NewJID(lid, types.HiddenUserServer),
		Platform:       "android",
		identity:       keys.NewKeyPair(),
		registrationID: randomRegistrationID(),
		nextDevice:     1,
	}
	p.signedPreKey = p.identity.CreateSignedPreKey(1)
	records := make([]*record.PreKey, 0, phonePreKeys)
	for i := uint32(1); i <= phonePreKeys; i++ {
		k := keys.NewPreKey(i)
		p.preKeys = append(p.preKeys, k)
		records = append(records, record.NewPreKey(k.KeyID, ecc.NewECKeyPair(
			ecc.NewDjbECPublicKey(*k.Pub), ecc.NewDjbECPrivateKey(*k.Priv),
		), nil))
	}
	p.signal = newSignalStore(p, records)
	s.phones[number] = p
	s.phonesByLID[lid] = p
	return p
}

// phoneFor finds the phone owning a phone-number or LID JID (any device).
// Callers hold s.mu.
func (s *Simulator) phoneFor(jid types.JID) *Phone {
	switch jid.Server {
	case types.DefaultUserServer:
		return s.phones[jid.User]
	case types.HiddenUserServer:
		return s.phonesByLID[jid.User]
	}
	return nil
}

// takePreKey hands out one one-time prekey, as the server does for each
// bundle fetch; nil once they run out, which Signal allows. Callers hold s.mu.
func (p *Phone) takePreKey() *keys.PreKey {
	if len(p.preKeys) == 0 {
		return nil
	}
	k := p.preKeys[0]
	p.preKeys = p.preKeys[1:]
	return k
}

func randomRegistrationID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])&0x3fff + 1
}
