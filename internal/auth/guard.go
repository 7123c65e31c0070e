package auth

import (
	"container/list"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
)

// Guard slows down guessing: it counts failed authentications per client
// address and, after a few, refuses every attempt from that address for a
// delay that doubles with each further failure. Other addresses are not
// affected, and a success clears the address's record.
//
// Memory is bounded: at most MaxClients addresses are tracked, and when more
// fail, the one whose last failure is oldest is forgotten.
type Guard struct {
	opts GuardOptions
	now  func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *failures
	lru     *list.List               // most recent failure first
}

// GuardOptions tunes a Guard. Zero fields get defaults.
type GuardOptions struct {
	// FreeFailures is how many failures in a row an address may have before
	// it has to wait. Default 5.
	FreeFailures int
	// MaxDelay caps the wait. The first wait is a second, and each failure
	// after it doubles the wait. An address that has not failed for twice
	// MaxDelay starts again from zero. Default 15m.
	MaxDelay time.Duration
	// MaxClients caps the addresses tracked. Default 10,000.
	MaxClients int
	// Log receives a line per failure, with the address and the token id but
	// never the secret.
	Log zerolog.Logger
}

// Defaults of GuardOptions.
const (
	DefaultFreeFailures = 5
	DefaultMaxDelay     = 15 * time.Minute
	DefaultMaxClients   = 10_000
	firstDelay          = time.Second
)

// failures is what the Guard knows about one address.
type failures struct {
	client string
	count  int       // failures in a row
	last   time.Time // of the latest failure
	until  time.Time // attempts before this are refused
}

// NewGuard returns a Guard with opts.
func NewGuard(opts GuardOptions) *Guard {
	if opts.FreeFailures <= 0 {
		opts.FreeFailures = DefaultFreeFailures
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	return &Guard{opts: opts, now: time.Now, clients: make(map[string]*list.Element), lru: list.New()}
}

// Blocked returns how long client must still wait before it may try to
// authenticate again, or 0.
func (g *Guard) Blocked(client string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	el, ok := g.clients[client]
	if !ok {
		return 0
	}
	return max(el.Value.(*failures).until.Sub(g.now()), 0)
}

// Failed records a failed authentication by client and returns how long it
// must now wait (0 while it has free failures left).
func (g *Guard) Failed(client string) (wait time.Duration, count int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var f *failures
	if el, ok := g.clients[client]; ok {
		f = el.Value.(*failures)
		g.lru.MoveToFront(el)
		if now.Sub(f.last) > 2*g.opts.MaxDelay {
			f.count = 0
		}
	} else {
		for g.lru.Len() >= g.opts.MaxClients {
			oldest := g.lru.Back()
			delete(g.clients, oldest.Value.(*failures).client)
			g.lru.Remove(oldest)
		}
		f = &failures{client: client}
		g.clients[client] = g.lru.PushFront(f)
	}
	f.count++
	f.last = now
	if over := f.count - g.opts.FreeFailures; over > 0 {
		wait = g.opts.MaxDelay
		if over <= 30 { // beyond that the shift overflows; the cap applies anyway
			wait = min(firstDelay<<(over-1), g.opts.MaxDelay)
		}
		f.until = now.Add(wait)
	}
	return wait, f.count
}

// Succeeded forgets client's failures.
func (g *Guard) Succeeded(client string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el, ok := g.clients[client]; ok {
		delete(g.clients, client)
		g.lru.Remove(el)
	}
}

// Tracked returns how many addresses the Guard holds, for tests and metrics.
func (g *Guard) Tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lru.Len()
}

// rateLimited is the error for an attempt refused while its client waits.
func rateLimited(wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	e := apperr.New(apperr.RateLimited, fmt.Sprintf("too many failed authentication attempts from this address; try again in %d seconds", secs)).
		WithSuggestion("Wait retryAfterSeconds, then send a valid token: check that the whole token was copied, or create a new one with 'wagraph token create --role OPERATOR'.")
	e.RetryAfter = wait
	return e
}
