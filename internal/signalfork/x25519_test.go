package signalfork

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/kdf"
	"golang.org/x/crypto/curve25519"
)

func key(t testing.TB, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test key %q", s)
	}
	return [32]byte(b)
}

// RFC 7748, sections 5.2 and 6.1.
func TestRFC7748Vectors(t *testing.T) {
	for _, v := range []struct{ scalar, point, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		got := kdf.CalculateSharedSecret(key(t, v.point), key(t, v.scalar))
		if want := key(t, v.out); got != want {
			t.Errorf("X25519(%s, %s) = %x, want %x", v.scalar, v.point, got, want)
		}
	}

	alicePriv := key(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	bobPriv := key(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	alice := ecc.CreateKeyPair(alicePriv[:])
	bob := ecc.CreateKeyPair(bobPriv[:])
	if got, want := alice.PublicKey().PublicKey(), key(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"); got != want {
		t.Errorf("Alice's public key %x, want %x", got, want)
	}
	if got, want := bob.PublicKey().PublicKey(), key(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"); got != want {
		t.Errorf("Bob's public key %x, want %x", got, want)
	}
	shared := key(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	if got := kdf.CalculateSharedSecret(bob.PublicKey().PublicKey(), alice.PrivateKey().Serialize()); got != shared {
		t.Errorf("Alice's shared secret %x, want %x", got, shared)
	}
	if got := kdf.CalculateSharedSecret(alice.PublicKey().PublicKey(), bob.PrivateKey().Serialize()); got != shared {
		t.Errorf("Bob's shared secret %x, want %x", got, shared)
	}
}

// checkAgreement holds the patched key agreement and key pair to x/crypto's
// on one scalar and point.
func checkAgreement(t *testing.T, scalar, point [32]byte) {
	t.Helper()
	var want [32]byte
	curve25519.ScalarMult(&want, &scalar, &point) //nolint:staticcheck // the reference the patch replaces
	if got := kdf.CalculateSharedSecret(point, scalar); got != want {
		t.Fatalf("shared secret of %x and %x: %x, x/crypto %x", scalar, point, got, want)
	}
	var wantPub [32]byte
	curve25519.ScalarBaseMult(&wantPub, &scalar) //nolint:staticcheck // the reference the patch replaces
	if got := ecc.CreateKeyPair(scalar[:]).PublicKey().PublicKey(); got != wantPub {
		t.Fatalf("public key of %x: %x, x/crypto %x", scalar, got, wantPub)
	}
}

func TestKeyAgreementMatchesXCrypto(t *testing.T) {
	var scalar, point [32]byte
	for range 300 {
		_, _ = rand.Read(scalar[:])
		_, _ = rand.Read(point[:])
		checkAgreement(t, scalar, point)
	}
	// Low-order points (all-zero result) and non-canonical encodings.
	for _, p := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	} {
		_, _ = rand.Read(scalar[:])
		checkAgreement(t, scalar, key(t, p))
	}
}

// A generated key pair agrees with another as Diffie-Hellman promises.
func TestGeneratedKeyPairsAgree(t *testing.T) {
	a, err := ecc.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ecc.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ab := kdf.CalculateSharedSecret(b.PublicKey().PublicKey(), a.PrivateKey().Serialize())
	ba := kdf.CalculateSharedSecret(a.PublicKey().PublicKey(), b.PrivateKey().Serialize())
	if ab != ba || ab == ([32]byte{}) {
		t.Fatalf("shared secrets differ or are zero: %x / %x", ab, ba)
	}
	priv := a.PrivateKey().Serialize()
	checkAgreement(t, priv, b.PublicKey().PublicKey())
}

func FuzzKeyAgreementMatchesXCrypto(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{9}, 32))
	f.Add(make([]byte, 32), make([]byte, 32))
	f.Fuzz(func(t *testing.T, scalar, point []byte) {
		var s, p [32]byte
		copy(s[:], scalar)
		copy(p[:], point)
		checkAgreement(t, s, p)
	})
}

// The cost the patch removes: x/crypto's ScalarMult also derives the
// scalar's public key.
func BenchmarkKeyAgreement(b *testing.B) {
	var scalar, point, out [32]byte
	_, _ = rand.Read(scalar[:])
	_, _ = rand.Read(point[:])
	b.Run("libsignal-patched", func(b *testing.B) {
		for b.Loop() {
			out = kdf.CalculateSharedSecret(point, scalar)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			curve25519.ScalarMult(&out, &scalar, &point) //nolint:staticcheck // the reference
		}
	})
}

func BenchmarkPublicKey(b *testing.B) {
	var scalar, out [32]byte
	_, _ = rand.Read(scalar[:])
	b.Run("libsignal-patched", func(b *testing.B) {
		for b.Loop() {
			out = ecc.CreateKeyPair(scalar[:]).PublicKey().PublicKey()
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			curve25519.ScalarBaseMult(&out, &scalar) //nolint:staticcheck // the reference
		}
	})
	_ = out
}
