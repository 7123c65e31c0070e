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
	clients map[string]*list.Element // of *record
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

// record is what the Guard knows about one address.
type record struct {
	client  string
	count   int           // failures in a row
	last    time.Time     // of the latest failure
	until   time.Time     // attempts before this are refused
	backoff time.Duration // the wait the latest failure started
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

// Begin admits an authentication attempt by client, or returns how long
// the client must still wait (refuse the attempt unchecked). A client that
// has failed before is counted as failing again at once (counted is true), so
// that concurrent guesses cannot slip past the limit; a client without
// failures is not, so that its concurrent requests are never held up. Pass
// counted on to Failed or Refund.
func (g *Guard) Begin(client string) (wait time.Duration, counted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	el, ok := g.clients[client]
	if !ok {
		return 0, false
	}
	f := el.Value.(*record)
	if wait := f.until.Sub(g.now()); wait > 0 {
		return wait, false
	}
	g.fail(el)
	return 0, true
}

// Failed records a failed attempt admitted by Begin and returns the
// failures in a row and the wait it started (0 while free failures remain).
func (g *Guard) Failed(client string, counted bool) (failures int, backoff time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	el, ok := g.clients[client]
	switch {
	case !ok:
		for g.lru.Len() >= g.opts.MaxClients {
			oldest := g.lru.Back()
			delete(g.clients, oldest.Value.(*record).client)
			g.lru.Remove(oldest)
		}
		el = g.lru.PushFront(&record{client: client})
		g.clients[client] = el
		g.fail(el)
	case !counted:
		g.fail(el)
	}
	f := el.Value.(*record)
	return f.count, f.backoff
}

// Refund takes back an attempt that Begin counted but that proved nothing
// (the database could not be asked).
func (g *Guard) Refund(client string, counted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el, ok := g.clients[client]; ok && counted {
		f := el.Value.(*record)
		f.count = max(f.count-1, 0)
		if f.count <= g.opts.FreeFailures {
			f.until, f.backoff = time.Time{}, 0
		}
	}
}

// fail counts one more failure on el's client and starts its wait once the
// free failures are used up.
func (g *Guard) fail(el *list.Element) {
	f := el.Value.(*record)
	now := g.now()
	g.lru.MoveToFront(el)
	if now.Sub(f.last) > 2*g.opts.MaxDelay {
		f.count = 0
	}
	f.count++
	f.last = now
	f.backoff = 0
	if over := f.count - g.opts.FreeFailures; over > 0 {
		f.backoff = g.opts.MaxDelay
		if over <= 30 { // beyond that the shift overflows; the cap applies anyway
			f.backoff = min(firstDelay<<(over-1), g.opts.MaxDelay)
		}
		f.until = now.Add(f.backoff)
	}
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
