// Added by wagraph (see WAGRAPH.md): public keys by the fixed-base
// multiplication of edwards25519.

package ecc

import "filippo.io/edwards25519"

// scalarBaseMult sets public to the Curve25519 public key of private, as
// golang.org/x/crypto/curve25519.ScalarBaseMult does, about three times
// faster: Ed25519's fixed-base multiplication with its precomputed table,
// mapped to the birationally equivalent Montgomery curve (u = (1+y)/(1−y)).
// The clamped scalar is reduced modulo the group order ℓ, which does not
// change the product: the base point has order ℓ.
func scalarBaseMult(public, private *[32]byte) {
	s, err := edwards25519.NewScalar().SetBytesWithClamping(private[:])
	if err != nil { // only for a length other than 32
		panic(err)
	}
	copy(public[:], new(edwards25519.Point).ScalarBaseMult(s).BytesMontgomery())
}
