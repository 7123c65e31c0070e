package wasim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
)

// qrRefCount is how many refs the server offers per pair-device IQ;
// whatsmeow shows the first for 60 s and each next one for 20 s.
const qrRefCount = 6

// Pairing errors.
var (
	// ErrBadQR means the string is not a whatsmeow QR payload.
	ErrBadQR = errors.New("wasim: malformed QR code")
	// ErrUnknownQR means no waiting client offered this ref, or it expired
	// with the client's connection.
	ErrUnknownQR = errors.New("wasim: QR ref is not pending")
	// ErrQRKeyMismatch means the QR's keys are not those the client
	// presented in its handshake, so the QR was tampered with.
	ErrQRKeyMismatch = errors.New("wasim: QR keys do not match the client")
	// ErrPairRejected means the client refused pair-success (it answered
	// with an error, e.g. hmac-mismatch).
	ErrPairRejected = errors.New("wasim: client rejected pairing")
	// ErrBadDeviceSignature means the client's pair-device-sign did not
	// carry a valid device signature.
	ErrBadDeviceSignature = errors.New("wasim: invalid device signature from client")
)

// register handles a connection from a client that has no identity yet: it
// keeps the client's registration data and offers QR refs.
func (c *conn) register(p *waWa6.ClientPayload) error {
	reg := p.GetDevicePairingData()
	if len(reg.GetEIdent()) != 32 || len(reg.GetERegid()) != 4 || len(reg.GetESkeyVal()) != 32 {
		return errors.New("registration payload lacks identity data")
	}
	c.reg = reg
	refs := make([]waBinary.Node, qrRefCount)
	c.sim.mu.Lock()
	for i := range refs {
		ref := newRef()
		c.sim.refs[ref] = c
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	c.sim.mu.Unlock()
	return c.send(waBinary.Node{
		Tag:     "iq",
		Attrs:   serverAttrs("id", c.sim.newID(), "type", "set", "xmlns", "md"),
		Content: []waBinary.Node{{Tag: "pair-device", Content: refs}},
	})
}

// forgetRefsLocked withdraws every QR ref a connection offered. Callers
// hold s.mu.
func (s *Simulator) forgetRefsLocked(c *conn) {
	for ref, rc := range s.refs {
		if rc == c {
			delete(s.refs, ref)
		}
	}
}

func newRef() string {
	b := make([]byte, 36)
	_, _ = rand.Read(b)
	return "2@" + base64.StdEncoding.EncodeToString(b)
}

// ScanQR has a new simulated phone, with a fresh number, scan a QR string
// the client emitted (an events.QR code or a GetQRChannel item). It returns
// once the client has signed the device identity; the client then restarts
// its stream (515) and logs in on its own.
func (s *Simulator) ScanQR(ctx context.Context, qr string) (*Phone, error) {
	p := s.NewPhone()
	if err := s.LinkQR(ctx, p, qr); err != nil {
		return nil, err
	}
	return p, nil
}

// LinkQR has an existing simulated phone scan a QR, linking one more
// companion device to its account.
func (s *Simulator) LinkQR(ctx context.Context, p *Phone, qr string) error {
	parts := strings.Split(qr, ",")
	if len(parts) != 4 {
		return ErrBadQR
	}
	noise, err1 := base64.StdEncoding.DecodeString(parts[1])
	identity, err2 := base64.StdEncoding.DecodeString(parts[2])
	adv, err3 := base64.StdEncoding.DecodeString(parts[3])
	if err := errors.Join(err1, err2, err3); err != nil || len(noise) != 32 || len(identity) != 32 || len(adv) != 32 {
		return ErrBadQR
	}
	s.mu.Lock()
	c := s.refs[parts[0]]
	if c != nil && c.matchesNoiseKey(noise) && hmac.Equal(c.reg.GetEIdent(), identity) {
		s.forgetRefsLocked(c) // a QR is single-use: this phone has claimed it
	}
	s.mu.Unlock()
	if c == nil {
		return ErrUnknownQR
	}
	if !c.matchesNoiseKey(noise) || !hmac.Equal(c.reg.GetEIdent(), identity) {
		return ErrQRKeyMismatch
	}
	return p.link(ctx, c, identity, adv)
}

// link sends pair-success to a waiting client and checks its answer: the
// phone's half of linking a companion, shared by QR and pairing code.
func (p *Phone) link(ctx context.Context, c *conn, identityPub, advSecret []byte) error {
	s := c.sim
	s.mu.Lock()
	devID := p.nextDevice
	p.nextDevice++
	s.mu.Unlock()
	jid := types.JID{User: p.JID.User, Device: devID, Server: types.DefaultUserServer}
	lid := types.JID{User: p.LID.User, Device: devID, Server: types.HiddenUserServer}
	const keyIndex = 1

	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(randomRegistrationID()),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(keyIndex),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return fmt.Errorf("wasim: marshal device identity: %w", err)
	}
	accountSig := sign(p.identity, concat(advAccountSignaturePrefix, details, identityPub))
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details:             details,
		AccountSignatureKey: p.identity.Pub[:],
		AccountSignature:    accountSig[:],
	})
	if err != nil {
		return fmt.Errorf("wasim: marshal signed identity: %w", err)
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details:     signed,
		HMAC:        mac.Sum(nil),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return fmt.Errorf("wasim: marshal identity container: %w", err)
	}
	resp, err := c.request(ctx, waBinary.Node{
		Tag:   "iq",
		Attrs: serverAttrs("type", "set", "xmlns", "md"),
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Attrs: waBinary.Attrs{"key-index": keyIndex}, Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": p.Platform}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": jid, "lid": lid}},
		}}},
	})
	if err != nil {
		return fmt.Errorf("wasim: pair-success: %w", err)
	}
	if typ, _ := resp.Attrs["type"].(string); typ != "result" {
		errNode := resp.GetChildByTag("error")
		return fmt.Errorf("%w: %v %v", ErrPairRejected, errNode.Attrs["code"], errNode.Attrs["text"])
	}
	if err := checkDeviceSignature(resp, details, identityPub, p.identity.Pub[:]); err != nil {
		return err
	}

	d := &device{
		jid:            jid,
		lid:            lid,
		phone:          p,
		noisePub:       c.clientStatic,
		identityPub:    identityPub,
		registrationID: beUint32(c.reg.GetERegid()),
		signedPreKey: preKeyRecord{
			id:  beUint32(c.reg.GetESkeyID()),
			pub: c.reg.GetESkeyVal(),
			sig: c.reg.GetESkeySig(),
		},
		preKeys: map[uint32][]byte{},
	}
	s.mu.Lock()
	s.devices[jid] = d
	s.mu.Unlock()
	s.log.Info().Stringer("device", jid).Stringer("lid", lid).Msg("device linked")
	// The real server restarts the stream so the client logs in with its new
	// identity. The client closes the socket itself on 515; the server
	// must not close first, or whatsmeow may drop the 515 unhandled.
	c.endWith(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
	return nil
}

// checkDeviceSignature verifies the client's pair-device-sign answer: the
// same identity details, signed by the companion's identity key over the
// phone's account key.
func checkDeviceSignature(resp *waBinary.Node, details, identityPub, accountPub []byte) error {
	raw, ok := resp.GetChildByTag("pair-device-sign", "device-identity").Content.([]byte)
	if !ok {
		return fmt.Errorf("%w: no device-identity in answer", ErrBadDeviceSignature)
	}
	var signed waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(raw, &signed); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDeviceSignature, err)
	}
	if !hmac.Equal(signed.GetDetails(), details) {
		return fmt.Errorf("%w: details changed", ErrBadDeviceSignature)
	}
	msg := concat(advDeviceSignaturePrefix, details, identityPub, accountPub)
	if !verify(identityPub, msg, signed.GetDeviceSignature()) {
		return ErrBadDeviceSignature
	}
	return nil
}

// ADV signature prefixes, as in whatsmeow's pair.go.
var (
	advAccountSignaturePrefix = []byte{6, 0}
	advDeviceSignaturePrefix  = []byte{6, 1}
)

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func beUint32(b []byte) uint32 {
	var v uint32
	for _, x := range b {
		v = v<<8 | uint32(x)
	}
	return v
}
