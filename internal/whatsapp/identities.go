package whatsapp

import (
	"context"
	"sync"

	wastore "go.mau.fi/whatsmeow/store"
)

// whatsmeow asks its identity store about every device a message is
// encrypted for, on every send: IsTrustedIdentity, then PutIdentity with
// the same key, three of each per message to a new contact (the contact's
// device and the account's own devices). Each PutIdentity is a write
// transaction even when nothing changes; on SQLite, with its one writer,
// those writes were most of whatsmeow's store time in a send.
// identityCache stands in front of a device's identity store and answers
// what it can from what it has read and written: a PutIdentity of the key
// the table already holds writes nothing, and IsTrustedIdentity of a key
// the table holds (or was found trusted) reads nothing.
//
// A device's session runs on one instance at a time and the cache lives
// with the session's client, so no other writer changes the identities
// under it. It keeps at most maxCachedIdentities addresses; deletes (rare:
// a contact's identity changed) empty it.
type identityCache struct {
	wastore.IdentityStore

	// writeMu orders the writes, so the cache ends as the table does when
	// a send and a received message store one address's identity at once.
	writeMu sync.Mutex
	mu      sync.Mutex
	known   map[string]identity
}

// identity is what the cache knows of one address: the table holds key
// (stored), or holds key or nothing (trusted by an earlier
// IsTrustedIdentity, which trusts an unknown identity on first use).
type identity struct {
	key    [32]byte
	stored bool
}

const maxCachedIdentities = 20_000

func newIdentityCache(inner wastore.IdentityStore) *identityCache {
	return &identityCache{IdentityStore: inner, known: map[string]identity{}}
}

func (c *identityCache) lookup(address string) (identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.known[address]
	return id, ok
}

// remember records id for address; a trusted (not stored) id does not
// replace a stored one.
func (c *identityCache) remember(address string, id identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.known[address]
	if ok && old.stored && !id.stored {
		return
	}
	if !ok && len(c.known) >= maxCachedIdentities {
		for a := range c.known { // drop one at random
			delete(c.known, a)
			break
		}
	}
	c.known[address] = id
}

func (c *identityCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.known)
}

// PutIdentity implements wastore.IdentityStore.
func (c *identityCache) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	if id, ok := c.lookup(address); ok && id.stored && id.key == key {
		return nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.IdentityStore.PutIdentity(ctx, address, key); err != nil {
		return err
	}
	c.remember(address, identity{key: key, stored: true})
	return nil
}

// IsTrustedIdentity implements wastore.IdentityStore.
func (c *identityCache) IsTrustedIdentity(ctx context.Context, address string, key [32]byte) (bool, error) {
	if id, ok := c.lookup(address); ok {
		if id.key == key {
			return true, nil
		}
		if id.stored {
			return false, nil
		}
	}
	trusted, err := c.IdentityStore.IsTrustedIdentity(ctx, address, key)
	if err == nil && trusted {
		c.remember(address, identity{key: key})
	}
	return trusted, err
}

// DeleteIdentity implements wastore.IdentityStore. whatsmeow matches the
// address with LIKE, so it may delete more than the one address: the
// cache forgets everything.
func (c *identityCache) DeleteIdentity(ctx context.Context, address string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	defer c.forgetAll()
	return c.IdentityStore.DeleteIdentity(ctx, address)
}

// DeleteAllIdentities implements wastore.IdentityStore.
func (c *identityCache) DeleteAllIdentities(ctx context.Context, phone string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	defer c.forgetAll()
	return c.IdentityStore.DeleteAllIdentities(ctx, phone)
}
