package wasim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/libsignal/ecc"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/state/record"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// State is what a simulator keeps across a restart of its process (wagraph
// simulator --state): the keys clients trust, the phones with their Signal
// state, the linked devices, groups, bans and login counts. Connections,
// QR codes and pairing codes waiting for a scan, and the record of sent
// messages are not kept: they end with the process.
//
// Restored with Options.State, a simulator presents the same certificate
// root and TLS certificate, so clients configured for the old process
// reconnect to the new one (on the same websocket address) and log in with
// their stored devices.
type State struct {
	Version int `json:"version"`
	// RootKey is the private key of the Noise certificate root.
	RootKey []byte `json:"rootKey"`
	// TLSCertificate and TLSKey are the websocket's certificate and its
	// private key, DER.
	TLSCertificate []byte `json:"tlsCertificate"`
	TLSKey         []byte `json:"tlsKey"`
	// WebsocketAddr is where the websocket listened.
	WebsocketAddr string                  `json:"websocketAddr"`
	NextNumber    uint64                  `json:"nextNumber"`
	NextLID       uint64                  `json:"nextLid"`
	Phones        []phoneState            `json:"phones"`
	Devices       []deviceState           `json:"devices"`
	Groups        []groupState            `json:"groups"`
	Bans          []banState              `json:"bans,omitempty"`
	Rejects       map[string]int          `json:"rejects,omitempty"`
	Counts        map[string]DeviceCounts `json:"counts,omitempty"`
}

// stateVersion is the State layout this code writes and reads.
const stateVersion = 1

type phoneState struct {
	Number, LID, Platform string
	Identity              []byte // private key
	RegistrationID        uint32
	SignedPreKey          keyState
	PreKeys               []keyState // one-time prekeys still handed out in bundles
	NextDevice            uint16
	// The phone's Signal store.
	SignalPreKeys []keyState
	Identities    map[string][]byte
	Sessions      map[string][]byte
	SenderKeys    map[string][]byte
}

type keyState struct {
	ID        uint32
	Priv      []byte
	Signature []byte `json:",omitempty"`
}

type deviceState struct {
	JID, LID, Phone string
	NoisePub        []byte
	IdentityPub     []byte
	RegistrationID  uint32
	SignedPreKeyID  uint32
	SignedPreKeyPub []byte
	SignedPreKeySig []byte
	PreKeys         map[uint32][]byte
}

type groupState struct {
	JID, Name, Topic, Mode string
	Created                time.Time
	Owner                  string
	Members                []memberState
}

type memberState struct {
	Phone string // number, digits
	Admin string
}

type banState struct {
	JID   string
	Code  int
	Until time.Time
}

// devicePreKeysKept bounds the uploaded prekeys kept per device: bundles
// need one at most, and Signal works without any.
const devicePreKeysKept = 32

// Snapshot returns the simulator's state for a later Options.State.
func (s *Simulator) Snapshot() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &State{
		Version:        stateVersion,
		RootKey:        s.keys.root.Priv[:],
		TLSCertificate: s.keys.tlsCert.Certificate[0],
		WebsocketAddr:  s.ln.Addr().String(),
		NextNumber:     s.nextNumber,
		NextLID:        s.nextLID,
		Rejects:        map[string]int{},
		Counts:         map[string]DeviceCounts{},
	}
	if der, err := x509.MarshalPKCS8PrivateKey(s.keys.tlsCert.PrivateKey); err == nil {
		st.TLSKey = der
	}
	for _, p := range s.phones {
		st.Phones = append(st.Phones, p.state())
	}
	for _, d := range s.devices {
		ds := deviceState{
			JID: d.jid.String(), LID: d.lid.String(), Phone: d.phone.JID.User,
			NoisePub: d.noisePub, IdentityPub: d.identityPub, RegistrationID: d.registrationID,
			SignedPreKeyID: d.signedPreKey.id, SignedPreKeyPub: d.signedPreKey.pub, SignedPreKeySig: d.signedPreKey.sig,
			PreKeys: map[uint32][]byte{},
		}
		for id, pub := range d.preKeys {
			if len(ds.PreKeys) == devicePreKeysKept {
				break
			}
			ds.PreKeys[id] = pub
		}
		st.Devices = append(st.Devices, ds)
	}
	for _, g := range s.groups {
		gs := groupState{JID: g.jid.String(), Name: g.name, Topic: g.topic, Mode: g.mode, Created: g.created, Owner: g.owner.JID.User}
		for _, m := range g.members {
			gs.Members = append(gs.Members, memberState{Phone: m.phone.JID.User, Admin: m.admin})
		}
		st.Groups = append(st.Groups, gs)
	}
	for jid, b := range s.bans {
		st.Bans = append(st.Bans, banState{JID: jid.String(), Code: b.code, Until: b.until})
	}
	for jid, code := range s.rejects {
		st.Rejects[jid.String()] = code
	}
	for jid, c := range s.counts {
		st.Counts[jid.String()] = *c
	}
	return st
}

// state copies a phone's keys and Signal store. Callers hold s.mu.
func (p *Phone) state() phoneState {
	ps := phoneState{
		Number: p.JID.User, LID: p.LID.User, Platform: p.Platform,
		Identity: p.identity.Priv[:], RegistrationID: p.registrationID,
		SignedPreKey: keyState{ID: p.signedPreKey.KeyID, Priv: p.signedPreKey.Priv[:], Signature: p.signedPreKey.Signature[:]},
		NextDevice:   p.nextDevice,
		Identities:   map[string][]byte{}, Sessions: map[string][]byte{}, SenderKeys: map[string][]byte{},
	}
	for _, k := range p.preKeys {
		ps.PreKeys = append(ps.PreKeys, keyState{ID: k.KeyID, Priv: k.Priv[:]})
	}
	sig := p.signal
	sig.decryptMu.Lock() // no decryption halfway through its records
	defer sig.decryptMu.Unlock()
	sig.mu.Lock()
	defer sig.mu.Unlock()
	for id, k := range sig.preKeys {
		priv := k.KeyPair().PrivateKey().Serialize()
		ps.SignalPreKeys = append(ps.SignalPreKeys, keyState{ID: id, Priv: priv[:]})
	}
	for addr, key := range sig.identities {
		ps.Identities[addr] = key
	}
	for addr, r := range sig.sessions {
		ps.Sessions[addr] = r.Serialize()
	}
	for name, r := range sig.senderKeys {
		ps.SenderKeys[name] = r.Serialize()
	}
	return ps
}

// restore replaces the simulator's keys and world with st's; Start calls
// it before serving.
func (s *Simulator) restore(st *State) error {
	if st == nil {
		return nil
	}
	if st.Version != stateVersion {
		return fmt.Errorf("state version %d, this simulator reads %d", st.Version, stateVersion)
	}
	if len(st.RootKey) != 32 {
		return errors.New("state: root key is not 32 bytes")
	}
	k, err := newServerKeys((*[32]byte)(st.RootKey))
	if err != nil {
		return err
	}
	if err := k.useTLS(st.TLSCertificate, st.TLSKey); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.keys = k
	s.nextNumber, s.nextLID = max(st.NextNumber, s.nextNumber), max(st.NextLID, s.nextLID)
	for _, ps := range st.Phones {
		p, err := restorePhone(ps)
		if err != nil {
			return fmt.Errorf("state: phone +%s: %w", ps.Number, err)
		}
		s.phones[p.JID.User] = p
		s.phonesByLID[p.LID.User] = p
	}
	for _, ds := range st.Devices {
		jid, err1 := types.ParseJID(ds.JID)
		lid, err2 := types.ParseJID(ds.LID)
		phone := s.phones[ds.Phone]
		if err := errors.Join(err1, err2); err != nil || phone == nil {
			return fmt.Errorf("state: device %s of an unknown phone or unreadable: %v", ds.JID, err)
		}
		d := &device{jid: jid, lid: lid, phone: phone, noisePub: ds.NoisePub, identityPub: ds.IdentityPub,
			registrationID: ds.RegistrationID, preKeys: ds.PreKeys,
			signedPreKey: preKeyRecord{id: ds.SignedPreKeyID, pub: ds.SignedPreKeyPub, sig: ds.SignedPreKeySig}}
		if d.preKeys == nil {
			d.preKeys = map[uint32][]byte{}
		}
		s.devices[jid] = d
	}
	for _, gs := range st.Groups {
		jid, err := types.ParseJID(gs.JID)
		owner := s.phones[gs.Owner]
		if err != nil || owner == nil {
			return fmt.Errorf("state: group %s unreadable or of an unknown owner", gs.JID)
		}
		g := &group{jid: jid, name: gs.Name, topic: gs.Topic, mode: gs.Mode, created: gs.Created, owner: owner}
		for _, m := range gs.Members {
			if p := s.phones[m.Phone]; p != nil {
				g.members = append(g.members, member{phone: p, admin: m.Admin})
			}
		}
		s.groups[jid] = g
	}
	for _, b := range st.Bans {
		if jid, err := types.ParseJID(b.JID); err == nil {
			s.bans[jid] = tempBan{code: b.Code, until: b.Until}
		}
	}
	for j, code := range st.Rejects {
		if jid, err := types.ParseJID(j); err == nil {
			s.rejects[jid] = code
		}
	}
	for j, c := range st.Counts {
		if jid, err := types.ParseJID(j); err == nil {
			s.countLoginLocked(jid, false)
			*s.counts[jid] = c
		}
	}
	return nil
}

// restorePhone rebuilds a phone and its Signal store.
func restorePhone(ps phoneState) (*Phone, error) {
	if len(ps.Identity) != 32 || len(ps.SignedPreKey.Priv) != 32 || len(ps.SignedPreKey.Signature) != 64 {
		return nil, errors.New("keys of the wrong size")
	}
	p := &Phone{
		Number:         "+" + ps.Number,
		JID:            types.NewJID(ps.Number, types.DefaultUserServer),
		LID:            types.NewJID(ps.LID, types.HiddenUserServer),
		Platform:       ps.Platform,
		identity:       keys.NewKeyPairFromPrivateKey([32]byte(ps.Identity)),
		registrationID: ps.RegistrationID,
		nextDevice:     ps.NextDevice,
	}
	p.signedPreKey = &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey([32]byte(ps.SignedPreKey.Priv)),
		KeyID: ps.SignedPreKey.ID, Signature: (*[64]byte)(ps.SignedPreKey.Signature)}
	for _, k := range ps.PreKeys {
		if len(k.Priv) != 32 {
			return nil, errors.New("a prekey of the wrong size")
		}
		p.preKeys = append(p.preKeys, &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey([32]byte(k.Priv)), KeyID: k.ID})
	}
	var records []*record.PreKey
	for _, k := range ps.SignalPreKeys {
		if len(k.Priv) != 32 {
			return nil, errors.New("a prekey of the wrong size")
		}
		kp := keys.NewKeyPairFromPrivateKey([32]byte(k.Priv))
		records = append(records, record.NewPreKey(k.ID, ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*kp.Pub), ecc.NewDjbECPrivateKey(*kp.Priv)), nil))
	}
	p.signal = newSignalStore(p, records)
	for addr, key := range ps.Identities {
		p.signal.identities[addr] = key
	}
	for addr, b := range ps.Sessions {
		r, err := record.NewSessionFromBytes(b, serializer.Session, serializer.State)
		if err != nil {
			return nil, fmt.Errorf("session with %s: %w", addr, err)
		}
		p.signal.sessions[addr] = r
	}
	for name, b := range ps.SenderKeys {
		r, err := groupRecord.NewSenderKeyFromBytes(b, serializer.SenderKeyRecord, serializer.SenderKeyState)
		if err != nil {
			return nil, fmt.Errorf("sender key %s: %w", name, err)
		}
		p.signal.senderKeys[name] = r
	}
	return p, nil
}

// useTLS replaces the generated TLS certificate with a stored one.
func (k *serverKeys) useTLS(certDER, keyDER []byte) error {
	leaf, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	k.tlsCert = tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: priv, Leaf: leaf}
	k.tlsRoots = x509.NewCertPool()
	k.tlsRoots.AddCert(leaf)
	return nil
}
