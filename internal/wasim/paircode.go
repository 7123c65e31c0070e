package wasim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/pbkdf2"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
)

// Pairing-code errors.
var (
	// ErrNoPairingCode means no client asked for a pairing code for the
	// number (whatsmeow's PairPhone was not called, or its connection ended).
	ErrNoPairingCode = errors.New("wasim: no pairing code pending for this number")
	// ErrWrongPairingCode means the code typed on the phone is not the one
	// the client showed: the key exchange it protects did not verify.
	ErrWrongPairingCode = errors.New("wasim: wrong pairing code")
)

// linkCodePBKDF2Rounds is whatsmeow's iteration count for the code key.
const linkCodePBKDF2Rounds = 2 << 16

// linkCodeSession is a client waiting for its pairing code to be typed on
// a phone.
type linkCodeSession struct {
	conn             *conn
	phone            *Phone
	ref              string
	wrappedCompanion []byte
	claimed          bool // guarded by Simulator.mu
	finish           chan linkCodeFinish
}

// linkCodeFinish is the client's companion_finish stage.
type linkCodeFinish struct {
	wrappedKeyBundle []byte
	identityPub      []byte
}

// handleLinkCodeIQ serves the client's two pairing-code stages. The hello
// registers the code session under the phone number (a number the
// simulator does not know becomes a new simulated phone, so a demo can type
// any number); the finish is handed to the waiting PairWithCode.
func (c *conn) handleLinkCodeIQ(node, reg *waBinary.Node) error {
	ag := reg.AttrGetter()
	jid := ag.OptionalJIDOrEmpty("jid")
	switch ag.OptionalString("stage") {
	case "companion_hello":
		wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		noise, _ := reg.GetChildByTag("companion_server_auth_key_pub").Content.([]byte)
		if len(wrapped) != 80 || !c.matchesNoiseKey(noise) || c.reg == nil || jid.Server != types.DefaultUserServer {
			return c.iqError(node, 400, "bad-request")
		}
		sess := &linkCodeSession{conn: c, ref: newRef(), wrappedCompanion: wrapped, finish: make(chan linkCodeFinish, 1)}
		c.sim.mu.Lock()
		sess.phone = c.sim.phones[jid.User]
		if sess.phone == nil {
			sess.phone = c.sim.adoptPhoneLocked(jid.User, "")
		}
		c.sim.linkCodes[jid.User] = sess
		c.sim.mu.Unlock()
		return c.result(node, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(sess.ref)},
		}})
	case "companion_finish":
		ref, _ := reg.GetChildByTag("link_code_pairing_ref").Content.([]byte)
		bundle, _ := reg.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
		identity, _ := reg.GetChildByTag("companion_identity_public").Content.([]byte)
		c.sim.mu.Lock()
		sess := c.sim.linkCodes[jid.User]
		c.sim.mu.Unlock()
		if sess == nil || sess.conn != c || sess.ref != string(ref) {
			return c.iqError(node, 404, "item-not-found")
		}
		select {
		case sess.finish <- linkCodeFinish{wrappedKeyBundle: bundle, identityPub: identity}:
		default:
		}
		return c.result(node)
	}
	return c.iqError(node, 400, "bad-request")
}

// PairWithCode types a pairing code, as shown by whatsmeow's PairPhone, on
// the simulated phone with that number, and runs the phone's half of the
// exchange: it unwraps the companion's ephemeral key with the code, sends
// its own wrapped ephemeral and identity, checks the key bundle the client
// returns and, with the ADV secret both sides derived, completes pairing as
// ScanQR does. A wrong code fails with ErrWrongPairingCode.
func (s *Simulator) PairWithCode(ctx context.Context, phoneNumber, code string) error {
	number := digits(phoneNumber)
	code = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	s.mu.Lock()
	sess := s.linkCodes[number]
	if sess == nil || sess.claimed {
		s.mu.Unlock()
		return ErrNoPairingCode
	}
	sess.claimed = true // a code is single-use
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.linkCodes[number] == sess {
			delete(s.linkCodes, number)
		}
		s.mu.Unlock()
	}()
	c, phone := sess.conn, sess.phone

	companionEphemeral := unwrapWithCode(code, sess.wrappedCompanion)
	primaryEphemeral := keys.NewKeyPair()
	wrappedPrimary, err := wrapWithCode(code, primaryEphemeral.Pub[:])
	if err != nil {
		return err
	}
	if err := c.send(waBinary.Node{
		Tag:   "notification",
		Attrs: serverAttrs("id", s.newID(), "type", "link_code_companion_reg", "t", "0"),
		Content: []waBinary.Node{{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(sess.ref)},
			{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrappedPrimary},
			{Tag: "primary_identity_pub", Content: phone.identity.Pub[:]},
		}}},
	}); err != nil {
		return fmt.Errorf("wasim: send code pair notification: %w", err)
	}

	var fin linkCodeFinish
	select {
	case fin = <-sess.finish:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return fmt.Errorf("wasim: pairing code: %w", errConnClosed)
	}
	ephemeralShared, err := curve25519.X25519(primaryEphemeral.Priv[:], companionEphemeral)
	if err != nil {
		return ErrWrongPairingCode
	}
	bundle, err := openKeyBundle(ephemeralShared, fin.wrappedKeyBundle)
	if err != nil {
		return ErrWrongPairingCode
	}
	companionIdentity, primaryIdentity, advRandom := bundle[:32], bundle[32:64], bundle[64:]
	if !bytes.Equal(companionIdentity, fin.identityPub) || !bytes.Equal(companionIdentity, c.reg.GetEIdent()) ||
		!bytes.Equal(primaryIdentity, phone.identity.Pub[:]) {
		return fmt.Errorf("%w: key bundle names other identities", ErrPairRejected)
	}
	identityShared, err := curve25519.X25519(phone.identity.Priv[:], companionIdentity)
	if err != nil {
		return fmt.Errorf("wasim: identity agreement: %w", err)
	}
	advSecret := hkdfutil.SHA256(concat(ephemeralShared, identityShared, advRandom), nil, []byte("adv_secret"), 32)
	s.mu.Lock()
	s.forgetRefsLocked(c)
	s.mu.Unlock()
	return phone.link(ctx, c, companionIdentity, advSecret)
}

// unwrapWithCode decrypts a peer's ephemeral public key wrapped as
// salt(32) | iv(16) | AES-CTR ciphertext(32) under PBKDF2(code, salt).
func unwrapWithCode(code string, wrapped []byte) []byte {
	key := pbkdf2.Key([]byte(code), wrapped[:32], linkCodePBKDF2Rounds, 32, sha256.New)
	block, _ := aes.NewCipher(key) // a 32-byte key cannot fail
	out := make([]byte, 32)
	cipher.NewCTR(block, wrapped[32:48]).XORKeyStream(out, wrapped[48:80])
	return out
}

// wrapWithCode is the phone's side of unwrapWithCode.
func wrapWithCode(code string, pub []byte) ([]byte, error) {
	out := make([]byte, 80)
	if _, err := rand.Read(out[:48]); err != nil {
		return nil, fmt.Errorf("wasim: random: %w", err)
	}
	key := pbkdf2.Key([]byte(code), out[:32], linkCodePBKDF2Rounds, 32, sha256.New)
	block, _ := aes.NewCipher(key)
	cipher.NewCTR(block, out[32:48]).XORKeyStream(out[48:], pub)
	return out, nil
}

// openKeyBundle decrypts the companion's key bundle: salt(32) | nonce(12)
// | AES-GCM ciphertext under HKDF(shared, salt).
func openKeyBundle(shared, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 44 {
		return nil, errors.New("short key bundle")
	}
	key := hkdfutil.SHA256(shared, wrapped[:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32)
	block, _ := aes.NewCipher(key)
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, wrapped[32:44], wrapped[44:], nil)
	if err != nil {
		return nil, err
	}
	if len(plain) != 96 {
		return nil, errors.New("key bundle has the wrong size")
	}
	return plain, nil
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
