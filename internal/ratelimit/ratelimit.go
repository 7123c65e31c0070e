// Package ratelimit decides whether one more action (a message send) may
// happen now for a key (an account), under several limits at once such as
// 20 per minute, 200 per hour and 1,000 per day.
//
// The guarantee: for every key and every Limit{Max, Window} passed with it,
// no interval of length Window, wherever it starts, contains more than Max
// admissions. A decision is atomic across all the limits of a call: it is
// admitted by all of them and recorded once, or refused and recorded
// nowhere.
//
// The algorithm is a sliding log: the limiter keeps the times of a key's
// recent admissions, newest last. A call is refused by Limit{Max, Window}
// when the Max-th newest admission is less than Window old; it then frees
// exactly when that admission turns Window old, which is what RetryAfter
// says. Fixed windows (a counter per calendar minute) admit 2×Max around a
// boundary, and token buckets admit their burst on top of the rate, so
// neither gives the guarantee. Because admissions are all-or-none, every
// limit of a key sees the same admissions: one log per key serves all its
// windows, trimmed to the newest max(Max) entries younger than the longest
// Window, which is all any decision can need.
//
// Two implementations share the Limiter interface and one contract test
// suite: Memory (in-process, the default) and Redis (one Lua script over one
// sorted set per key, on Redis's clock, so every instance sharing the Redis
// shares each key's budget). Well-kept Go libraries were checked first:
// go-redis/redis_rate (GCRA) and throttled (GCRA) check one limit per call
// and allow bursts; ulule/limiter counts fixed windows; go-chi/httprate
// estimates a sliding window from two fixed counters; sethvargo/go-limiter
// is a token bucket. None makes one atomic decision over several exact
// windows, and calling a one-window limiter per window would consume budget
// in the windows that admitted when a later one refuses.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"wagraph/internal/apperr"
)

// Limit allows at most Max admissions in any interval of length Window.
type Limit struct {
	Max    int
	Window time.Duration
}

func (l Limit) String() string { return fmt.Sprintf("%d per %s", l.Max, l.Window) }

// Bounds of what Validate accepts. They keep a key's log, which holds up to
// MaxPerWindow admission times, small enough to keep for every account.
const (
	MaxLimits    = 8
	MaxPerWindow = 100_000
	MinWindow    = time.Millisecond
	MaxWindow    = 366 * 24 * time.Hour
	MaxKeyLen    = 200
)

// Decision is the answer to Allow.
type Decision struct {
	// Allowed reports whether the action was admitted (and recorded).
	Allowed bool
	// At is the time of the decision on the limiter's clock (Redis's clock
	// for Redis); an admission is recorded at this time.
	At time.Time
	// Refused is the limit that refused, the one that frees last when
	// several are full; zero when Allowed.
	Refused Limit
	// RetryAfter is how long after At every refusing limit has room again:
	// the moment the admission that fills Refused leaves its window. A call
	// at At+RetryAfter is admitted unless something else was admitted for
	// the key in between. Zero when Allowed.
	RetryAfter time.Duration
}

// WindowStatus is the state of one limit of a key, for gauges.
type WindowStatus struct {
	Limit Limit
	// Used counts the admissions in the last Limit.Window.
	Used int
	// Remaining is how many more would be admitted now by this limit.
	Remaining int
	// NextFree is when Remaining next grows: when the window is full, the
	// moment this limit admits again (the RetryAfter Allow would give);
	// otherwise when its oldest admission leaves it. Zero when Used is 0.
	NextFree time.Time
	// Reset is when Used is back to 0: its newest admission leaves the
	// window. Zero when Used is 0.
	Reset time.Time
}

// Limiter makes admission decisions for keys under several limits at once.
// The limits travel with each call so that they can differ per key and
// change at any time; a key's log is shared by whatever limits are passed.
type Limiter interface {
	// Allow admits one action for key now if every limit has room, and
	// records it; otherwise it records nothing and says which limit
	// refused and for how long.
	Allow(ctx context.Context, key string, limits []Limit) (Decision, error)
	// Status reports each limit's usage of key now, in the order given,
	// without recording anything.
	Status(ctx context.Context, key string, limits []Limit) ([]WindowStatus, error)
}

// Validate checks key and limits as both limiters require: a non-empty key
// without braces (the Redis limiter wraps it in a {hash tag}), 1 to
// MaxLimits limits with Max in 1..MaxPerWindow and whole-millisecond windows
// in MinWindow..MaxWindow, sorted by window, shortest first, each window once.
func Validate(key string, limits []Limit) error {
	switch {
	case key == "":
		return apperr.Invalid("key", "rate limit key is empty", "Pass the account id as the key.")
	case len(key) > MaxKeyLen:
		return apperr.Invalid("key", fmt.Sprintf("rate limit key is %d bytes long, more than %d", len(key), MaxKeyLen), "Pass the account id as the key.")
	}
	for _, c := range key {
		if c == '{' || c == '}' {
			return apperr.Invalid("key", fmt.Sprintf("rate limit key %q contains a brace", key), "Pass the account id as the key; braces would break the Redis hash tag.")
		}
	}
	if len(limits) == 0 || len(limits) > MaxLimits {
		return apperr.Invalid("limits", fmt.Sprintf("%d rate limits given; give 1 to %d", len(limits), MaxLimits), "Give one limit per window, for example 20 per minute, 200 per hour and 1000 per day.")
	}
	for i, l := range limits {
		if err := validateLimit(l, i, limits); err != nil {
			return err
		}
	}
	return nil
}

// validateLimit checks limits[i]; it builds the field's name only for an
// error, since Validate runs on every decision.
func validateLimit(l Limit, i int, limits []Limit) error {
	field := func(name string) string { return fmt.Sprintf("limits[%d].%s", i, name) }
	switch {
	case l.Max < 1 || l.Max > MaxPerWindow:
		return apperr.Invalid(field("max"), fmt.Sprintf("limit %s: max must be between 1 and %d", l, MaxPerWindow), "Set how many sends the window allows, at least 1.")
	case l.Window < MinWindow || l.Window > MaxWindow:
		return apperr.Invalid(field("window"), fmt.Sprintf("limit %s: window must be between %s and %s", l, MinWindow, MaxWindow), "Use a window such as 1m, 1h or 24h.")
	case l.Window%time.Millisecond != 0:
		return apperr.Invalid(field("window"), fmt.Sprintf("limit %s: window must be a whole number of milliseconds", l), "Use a window such as 1m, 1h or 24h.")
	case i > 0 && l.Window <= limits[i-1].Window:
		return apperr.Invalid(field("window"), fmt.Sprintf("limit %s comes after %s: windows must be given shortest first, each once", l, limits[i-1]), "Sort the limits by window and merge limits with the same window into one (the lower max).")
	}
	return nil
}

// logSize is how many admission times a key's log must keep for limits: the
// largest Max. Older entries cannot decide anything for these limits.
func logSize(limits []Limit) int {
	n := 0
	for _, l := range limits {
		n = max(n, l.Max)
	}
	return n
}

// longest is the longest window of validated limits (sorted shortest first).
func longest(limits []Limit) time.Duration { return limits[len(limits)-1].Window }
