package wasim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/groups"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/whatsmeow/store"
)

// serializer is the protobuf serializer whatsmeow uses for Signal records.
var serializer = store.SignalProtobufSerializer

// signalStore is a phone's Signal state, in memory: its identity and
// prekeys, the sessions clients open with it, and group sender keys. It
// lets a simulated phone decrypt what a client sends to it.
type signalStore struct {
	phone *Phone

	// decryptMu serialises whole decrypt operations; libsignal loads,
	// mutates and stores records without locking.
	decryptMu sync.Mutex

	mu         sync.Mutex
	identities map[string][]byte
	preKeys    map[uint32]*record.PreKey
	sessions   map[string]*record.Session
	senderKeys map[string]*groupRecord.SenderKey
}

func newSignalStore(p *Phone, preKeys []*record.PreKey) *signalStore {
	s := &signalStore{
		phone:      p,
		identities: map[string][]byte{},
		preKeys:    map[uint32]*record.PreKey{},
		sessions:   map[string]*record.Session{},
		senderKeys: map[string]*groupRecord.SenderKey{},
	}
	for _, k := range preKeys {
		s.preKeys[k.ID().Value] = k
	}
	return s
}

// errUnsupportedCiphertext is returned for enc types the phone cannot read.
var errUnsupportedCiphertext = errors.New("wasim: unsupported ciphertext type")

// decrypt opens a pkmsg or msg sent to this phone by sender.
func (s *signalStore) decrypt(ctx context.Context, sender *protocol.SignalAddress, encType string, content []byte) ([]byte, error) {
	s.decryptMu.Lock()
	defer s.decryptMu.Unlock()
	builder := session.NewBuilderFromSignal(s, sender, serializer)
	cipher := session.NewCipher(builder, sender)
	var plain []byte
	var err error
	switch encType {
	case "pkmsg":
		var msg *protocol.PreKeySignalMessage
		if msg, err = protocol.NewPreKeySignalMessageFromBytes(content, serializer.PreKeySignalMessage, serializer.SignalMessage); err == nil {
			plain, err = cipher.DecryptMessage(ctx, msg)
		}
	case "msg":
		var msg *protocol.SignalMessage
		if msg, err = protocol.NewSignalMessageFromBytes(content, serializer.SignalMessage); err == nil {
			plain, err = cipher.Decrypt(ctx, msg)
		}
	default:
		return nil, fmt.Errorf("%w %q", errUnsupportedCiphertext, encType)
	}
	if err != nil {
		return nil, err
	}
	return unpad(plain)
}

// processSenderKey accepts a group sender key distribution message.
func (s *signalStore) processSenderKey(ctx context.Context, name *protocol.SenderKeyName, skdm []byte) error {
	s.decryptMu.Lock()
	defer s.decryptMu.Unlock()
	msg, err := protocol.NewSenderKeyDistributionMessageFromBytes(skdm, serializer.SenderKeyDistributionMessage)
	if err != nil {
		return err
	}
	return groups.NewGroupSessionBuilder(s, serializer).Process(ctx, name, msg)
}

// decryptGroup opens an skmsg with a sender key received earlier.
func (s *signalStore) decryptGroup(ctx context.Context, name *protocol.SenderKeyName, content []byte) ([]byte, error) {
	s.decryptMu.Lock()
	defer s.decryptMu.Unlock()
	msg, err := protocol.NewSenderKeyMessageFromBytes(content, serializer.SenderKeyMessage)
	if err != nil {
		return nil, err
	}
	builder := groups.NewGroupSessionBuilder(s, serializer)
	plain, err := groups.NewGroupCipher(builder, name, s).Decrypt(ctx, msg)
	if err != nil {
		return nil, err
	}
	return unpad(plain)
}

// unpad strips whatsmeow's random padding (v2 messages).
func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("wasim: empty plaintext")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > len(b) || !bytes.Equal(b[len(b)-n:], bytes.Repeat(b[len(b)-1:], n)) {
		return nil, errors.New("wasim: bad padding")
	}
	return b[:len(b)-n], nil
}

// The methods below implement libsignal's store interfaces.

func (s *signalStore) GetIdentityKeyPair() *identity.KeyPair {
	return identity.NewKeyPair(
		identity.NewKey(ecc.NewDjbECPublicKey(*s.phone.identity.Pub)),
		ecc.NewDjbECPrivateKey(*s.phone.identity.Priv),
	)
}

func (s *signalStore) GetLocalRegistrationID() uint32 { return s.phone.registrationID }

func (s *signalStore) SaveIdentity(_ context.Context, address *protocol.SignalAddress, key *identity.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pub := key.PublicKey().PublicKey()
	s.identities[address.String()] = pub[:]
	return nil
}

// IsTrustedIdentity trusts on first use, as whatsmeow's AutoTrustIdentity
// effectively does for a phone.
func (s *signalStore) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

func (s *signalStore) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preKeys[id], nil
}

func (s *signalStore) StorePreKey(_ context.Context, id uint32, r *record.PreKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.preKeys[id] = r
	return nil
}

func (s *signalStore) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.preKeys[id]
	return ok, nil
}

func (s *signalStore) RemovePreKey(_ context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.preKeys, id)
	return nil
}

func (s *signalStore) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	spk := s.phone.signedPreKey
	if id != spk.KeyID {
		return nil, nil
	}
	return record.NewSignedPreKey(id, 0, ecc.NewECKeyPair(
		ecc.NewDjbECPublicKey(*spk.Pub), ecc.NewDjbECPrivateKey(*spk.Priv),
	), *spk.Signature, nil), nil
}

func (s *signalStore) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	spk, err := s.LoadSignedPreKey(ctx, s.phone.signedPreKey.KeyID)
	return []*record.SignedPreKey{spk}, err
}

// The phone's signed prekey never rotates, so storing and removing are
// no-ops.
func (s *signalStore) StoreSignedPreKey(context.Context, uint32, *record.SignedPreKey) error {
	return nil
}

func (s *signalStore) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	return id == s.phone.signedPreKey.KeyID, nil
}

func (s *signalStore) RemoveSignedPreKey(context.Context, uint32) error { return nil }

func (s *signalStore) LoadSession(_ context.Context, address *protocol.SignalAddress) (*record.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.sessions[address.String()]; ok {
		return r, nil
	}
	return record.NewSession(serializer.Session, serializer.State), nil
}

func (s *signalStore) GetSubDeviceSessions(_ context.Context, name string) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint32
	for addr := range s.sessions {
		var dev uint32
		if n, _ := fmt.Sscanf(addr, name+".%d", &dev); n == 1 && dev != 1 {
			out = append(out, dev)
		}
	}
	return out, nil
}

func (s *signalStore) StoreSession(_ context.Context, address *protocol.SignalAddress, r *record.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[address.String()] = r
	return nil
}

func (s *signalStore) ContainsSession(_ context.Context, address *protocol.SignalAddress) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[address.String()]
	return ok, nil
}

func (s *signalStore) DeleteSession(_ context.Context, address *protocol.SignalAddress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, address.String())
	return nil
}

func (s *signalStore) DeleteAllSessions(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*record.Session{}
	return nil
}

func (s *signalStore) StoreSenderKey(_ context.Context, name *protocol.SenderKeyName, r *groupRecord.SenderKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.senderKeys[name.GroupID()+"|"+name.Sender().String()] = r
	return nil
}

func (s *signalStore) LoadSenderKey(_ context.Context, name *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.senderKeys[name.GroupID()+"|"+name.Sender().String()]; ok {
		return r, nil
	}
	return groupRecord.NewSenderKey(serializer.SenderKeyRecord, serializer.SenderKeyState), nil
}
