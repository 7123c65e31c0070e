package wasim

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"

	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/gcmutil"
)

// noiseState is the responder side of Noise_XX_25519_AESGCM_SHA256 as
// whatsmeow's socket.NoiseHandshake runs it: the same hash, salt and counter
// rules, mirrored. whatsmeow's own type cannot be reused because its final
// key split needs an unexported salt.
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

// newNoiseState starts the handshake with WhatsApp's pattern name and the
// connection header the client sent first, which is part of the prologue.
func newNoiseState(header []byte) (*noiseState, error) {
	pattern := []byte(socket.NoiseStartPattern)
	ns := &noiseState{}
	if len(pattern) == 32 {
		ns.hash = pattern
	} else {
		h := sha256.Sum256(pattern)
		ns.hash = h[:]
	}
	ns.salt = ns.hash
	var err error
	if ns.key, err = gcmutil.Prepare(ns.hash); err != nil {
		return nil, fmt.Errorf("prepare noise cipher: %w", err)
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.Sum256(append(append([]byte{}, ns.hash...), data...))
	ns.hash = h[:]
}

func (ns *noiseState) nextIV() []byte {
	iv := nonce(ns.counter)
	ns.counter++
	return iv
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ct := ns.key.Seal(nil, ns.nextIV(), plaintext, ns.hash)
	ns.authenticate(ct)
	return ct
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := ns.key.Open(nil, ns.nextIV(), ciphertext, ns.hash)
	if err != nil {
		return nil, fmt.Errorf("noise decrypt: %w", err)
	}
	ns.authenticate(ciphertext)
	return pt, nil
}

// mix runs a Diffie-Hellman between priv and pub and mixes the secret into
// the chaining key.
func (ns *noiseState) mix(priv, pub []byte) error {
	secret, err := curve25519.X25519(priv, pub)
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	write, read, err := expand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.counter = 0
	ns.salt = write
	if ns.key, err = gcmutil.Prepare(read); err != nil {
		return fmt.Errorf("prepare noise cipher: %w", err)
	}
	return nil
}

// finish splits the transport keys. The client writes with the first key,
// so the server reads with it and writes with the second.
func (ns *noiseState) finish() (*noiseTransport, error) {
	clientWrite, clientRead, err := expand(ns.salt, nil)
	if err != nil {
		return nil, err
	}
	readKey, err := gcmutil.Prepare(clientWrite)
	if err != nil {
		return nil, fmt.Errorf("prepare read cipher: %w", err)
	}
	writeKey, err := gcmutil.Prepare(clientRead)
	if err != nil {
		return nil, fmt.Errorf("prepare write cipher: %w", err)
	}
	return &noiseTransport{readKey: readKey, writeKey: writeKey}, nil
}

func expand(salt, data []byte) (first, second []byte, err error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	first, second = make([]byte, 32), make([]byte, 32)
	if _, err = io.ReadFull(h, first); err == nil {
		_, err = io.ReadFull(h, second)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf expand: %w", err)
	}
	return first, second, nil
}

func nonce(counter uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], counter)
	return iv
}

// noiseTransport encrypts frames after the handshake. Callers serialise
// access: reads happen on the connection's read loop, writes under its
// write lock.
type noiseTransport struct {
	readKey, writeKey         cipher.AEAD
	readCounter, writeCounter uint32
}

func (t *noiseTransport) open(ciphertext []byte) ([]byte, error) {
	pt, err := t.readKey.Open(nil, nonce(t.readCounter), ciphertext, nil)
	t.readCounter++
	if err != nil {
		return nil, fmt.Errorf("decrypt frame: %w", err)
	}
	return pt, nil
}

func (t *noiseTransport) seal(plaintext []byte) []byte {
	ct := t.writeKey.Seal(nil, nonce(t.writeCounter), plaintext, nil)
	t.writeCounter++
	return ct
}
