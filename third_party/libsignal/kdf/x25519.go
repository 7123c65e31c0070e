// Added by wagraph (see WAGRAPH.md): a Curve25519 Diffie-Hellman that does
// only the one scalar multiplication it needs.

package kdf

import "filippo.io/edwards25519/field"

// x25519 sets dst to scalar·point on Curve25519 (RFC 7748), as
// golang.org/x/crypto/curve25519.ScalarMult does: an all-zero result for a
// low-order point. x/crypto goes through crypto/ecdh.NewPrivateKey, which
// also derives the scalar's public key and throws it away: a second ladder
// as costly as the first, on every step of the ratchet.
//
// The ladder is crypto/ecdh's x25519ScalarMult (Go 1.26, BSD licence),
// over the same field arithmetic published as filippo.io/edwards25519/field.
// It runs in constant time: the swaps are conditional moves.
func x25519(dst, scalar, point *[32]byte) {
	var e [32]byte

	copy(e[:], scalar[:])
	e[0] &= 248
	e[31] &= 127
	e[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	// SetBytes ignores the top bit, as RFC 7748 asks; it fails only on a
	// length other than 32.
	if _, err := x1.SetBytes(point[:]); err != nil {
		panic(err)
	}
	x2.One()
	x3.Set(&x1)
	z3.One()

	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := e[pos/8] >> uint(pos&7)
		b &= 1
		swap ^= int(b)
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = int(b)

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)

		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}

	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	copy(dst[:], x2.Bytes())
}
