package whatsapp

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// memIdentities is whatsmeow's SQL identity store in memory: trust on
// first use, deletes matched with LIKE (only "%" at the end here).
type memIdentities struct {
	keys          map[string][32]byte
	reads, writes int
}

func (m *memIdentities) PutIdentity(_ context.Context, address string, key [32]byte) error {
	m.writes++
	m.keys[address] = key
	return nil
}

func (m *memIdentities) DeleteAllIdentities(_ context.Context, phone string) error {
	m.writes++
	for a := range m.keys {
		if strings.HasPrefix(a, phone+":") {
			delete(m.keys, a)
		}
	}
	return nil
}

func (m *memIdentities) DeleteIdentity(_ context.Context, address string) error {
	m.writes++
	delete(m.keys, address)
	return nil
}

func (m *memIdentities) IsTrustedIdentity(_ context.Context, address string, key [32]byte) (bool, error) {
	m.reads++
	k, ok := m.keys[address]
	return !ok || k == key, nil
}

// The cache answers exactly as the store it stands in front of, over
// random puts, trust checks and deletes, and leaves the store holding the
// same identities.
func TestIdentityCacheAnswersAsTheStore(t *testing.T) {
	ctx := context.Background()
	for round := range 200 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		bare := &memIdentities{keys: map[string][32]byte{}}
		backing := &memIdentities{keys: map[string][32]byte{}}
		cached := newIdentityCache(backing)
		addr := func() string { return []string{"491:0", "491:3", "492:0", "493:1"}[rng.IntN(4)] }
		key := func() [32]byte { return [32]byte{byte(rng.IntN(3))} }
		for step := range 60 {
			switch rng.IntN(10) {
			case 0:
				a := addr()
				_ = bare.DeleteIdentity(ctx, a)
				_ = cached.DeleteIdentity(ctx, a)
			case 1:
				p := addr()[:3]
				_ = bare.DeleteAllIdentities(ctx, p)
				_ = cached.DeleteAllIdentities(ctx, p)
			case 2, 3, 4:
				a, k := addr(), key()
				_ = bare.PutIdentity(ctx, a, k)
				_ = cached.PutIdentity(ctx, a, k)
			default:
				a, k := addr(), key()
				want, _ := bare.IsTrustedIdentity(ctx, a, k)
				got, _ := cached.IsTrustedIdentity(ctx, a, k)
				if got != want {
					t.Fatalf("round %d step %d: IsTrustedIdentity(%s, %d) = %v, the store says %v", round, step, a, k[0], got, want)
				}
			}
		}
		if len(bare.keys) != len(backing.keys) {
			t.Fatalf("round %d: the store holds %v behind the cache, %v without", round, backing.keys, bare.keys)
		}
		for a, k := range bare.keys {
			if backing.keys[a] != k {
				t.Fatalf("round %d: the store holds %v behind the cache, %v without", round, backing.keys, bare.keys)
			}
		}
	}
}

// What a send does to a known device, again and again: one read and one
// write in all, then nothing.
func TestIdentityCacheSkipsRepeatedWork(t *testing.T) {
	ctx := context.Background()
	inner := &memIdentities{keys: map[string][32]byte{}}
	c := newIdentityCache(inner)
	k := [32]byte{1}
	for range 100 {
		if ok, err := c.IsTrustedIdentity(ctx, "491:0", k); !ok || err != nil {
			t.Fatalf("IsTrustedIdentity = %v, %v", ok, err)
		}
		if err := c.PutIdentity(ctx, "491:0", k); err != nil {
			t.Fatal(err)
		}
	}
	if inner.reads != 1 || inner.writes != 1 {
		t.Fatalf("%d reads and %d writes for 100 sends, want 1 and 1", inner.reads, inner.writes)
	}
	if ok, _ := c.IsTrustedIdentity(ctx, "491:0", [32]byte{2}); ok || inner.reads != 1 {
		t.Fatalf("a changed identity: trusted %v after %d reads, want false from the cache", ok, inner.reads)
	}
	for i := range maxCachedIdentities + 10 {
		_ = c.PutIdentity(ctx, "49"+strings.Repeat("1", i%7)+":"+string(rune('a'+i%26))+string(rune(i)), k)
	}
	if n := len(c.known); n > maxCachedIdentities {
		t.Fatalf("%d addresses cached, at most %d", n, maxCachedIdentities)
	}
}
