// Package signalfork checks wagraph's patch to go.mau.fi/libsignal, the
// copy under third_party/libsignal that go.mod's replace builds instead of
// the published module (see third_party/libsignal/WAGRAPH.md).
//
// The patch only changes how the Curve25519 operations are computed, never
// their results: its tests hold libsignal's key agreement and key pairs to
// golang.org/x/crypto/curve25519, which the published module calls, on
// RFC 7748's vectors, random keys, low-order points and fuzzed input.
package signalfork
