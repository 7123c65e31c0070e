package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"wagraph/internal/apperr"
)

// fakeClock is a clock moved by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// epoch is where fake clocks start: a whole second, so that millisecond
// steps stay exact in Redis's microseconds too.
var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newLimiterFunc returns a fresh, empty limiter whose clock is now.
type newLimiterFunc func(t *testing.T, now func() time.Time) Limiter

var (
	perMinute = Limit{Max: 20, Window: time.Minute}
	perHour   = Limit{Max: 200, Window: time.Hour}
	perDay    = Limit{Max: 1000, Window: 24 * time.Hour}
	// production-like limits, the acceptance test's
	sendLimits = []Limit{perMinute, perHour, perDay}
)

// runContract is the suite every Limiter passes. Windows are at least a
// minute: the Redis limiter's keys expire on Redis's real clock.
func runContract(t *testing.T, newLimiter newLimiterFunc) {
	ctx := context.Background()
	setup := func(t *testing.T) (Limiter, *fakeClock) {
		clock := newFakeClock()
		return newLimiter(t, clock.Now), clock
	}

	t.Run("admits up to max, then refuses until the oldest leaves", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 3, Window: time.Minute}}
		for i := range 3 {
			mustAllow(t, lim, "a", limits, true)
			clock.Advance(time.Duration(i+1) * time.Second) // admissions at 0s, 1s, 3s
		}
		// now 6s: the admission at 0s leaves at 60s
		d := mustAllow(t, lim, "a", limits, false)
		if d.Refused != limits[0] || d.RetryAfter != 54*time.Second {
			t.Fatalf("refused %v after %v, want %v after 54s", d.Refused, d.RetryAfter, limits[0])
		}
		if !d.At.Equal(epoch.Add(6 * time.Second)) {
			t.Fatalf("decision at %v, want %v", d.At, epoch.Add(6*time.Second))
		}
	})

	t.Run("exactly at the window boundary the oldest has left", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 2, Window: time.Minute}}
		mustAllow(t, lim, "a", limits, true) // 0s
		clock.Advance(10 * time.Second)
		mustAllow(t, lim, "a", limits, true) // 10s
		clock.Advance(50*time.Second - time.Millisecond)
		d := mustAllow(t, lim, "a", limits, false) // 59.999s: [0s, 10s] still in
		if d.RetryAfter != time.Millisecond {
			t.Fatalf("retry after %v at one millisecond before the boundary, want 1ms", d.RetryAfter)
		}
		clock.Advance(time.Millisecond)
		mustAllow(t, lim, "a", limits, true)  // 60s: 0s left exactly now
		mustAllow(t, lim, "a", limits, false) // [10s, 60s] fill it again
	})

	t.Run("retry after is exact", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 4, Window: time.Hour}}
		for range 4 {
			mustAllow(t, lim, "a", limits, true)
			clock.Advance(7*time.Minute + 13*time.Millisecond)
		}
		d := mustAllow(t, lim, "a", limits, false)
		clock.Advance(d.RetryAfter - time.Millisecond)
		if d2 := mustAllow(t, lim, "a", limits, false); d2.RetryAfter != time.Millisecond {
			t.Fatalf("1ms before the retry time: retry after %v, want 1ms", d2.RetryAfter)
		}
		clock.Advance(time.Millisecond)
		mustAllow(t, lim, "a", limits, true)
	})

	t.Run("refused decisions consume nothing in any window", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 1, Window: time.Minute}, {Max: 3, Window: time.Hour}}
		mustAllow(t, lim, "a", limits, true)
		for range 50 { // refused by the minute; must not count in the hour
			clock.Advance(time.Second)
			mustAllow(t, lim, "a", limits, false)
		}
		st := mustStatus(t, lim, "a", limits)
		if st[0].Used != 1 || st[1].Used != 1 {
			t.Fatalf("after 1 admission and 50 refusals: used %d and %d, want 1 and 1", st[0].Used, st[1].Used)
		}
		clock.Advance(10 * time.Second) // 60s
		mustAllow(t, lim, "a", limits, true)
		clock.Advance(time.Minute)
		mustAllow(t, lim, "a", limits, true)
		clock.Advance(time.Minute)
		d := mustAllow(t, lim, "a", limits, false)
		if d.Refused != limits[1] || d.RetryAfter != time.Hour-3*time.Minute {
			t.Fatalf("4th admission in the hour: refused %v after %v, want %v after 57m", d.Refused, d.RetryAfter, limits[1])
		}
	})

	t.Run("the longest window refuses when the shorter ones have room", func(t *testing.T) {
		lim, clock := setup(t)
		for i := range 200 { // 200 in the hour, 10 a minute: the minute never fills
			mustAllow(t, lim, "a", sendLimits, true)
			if i%10 == 9 {
				clock.Advance(time.Minute)
			}
		}
		// now 20m; day and minute have room, the hour is full until 60m
		d := mustAllow(t, lim, "a", sendLimits, false)
		if d.Refused != perHour || d.RetryAfter != 40*time.Minute {
			t.Fatalf("refused %v after %v, want %v after 40m", d.Refused, d.RetryAfter, perHour)
		}
		st := mustStatus(t, lim, "a", sendLimits)
		want := []WindowStatus{
			{Limit: perMinute, Used: 0, Remaining: 20},
			{Limit: perHour, Used: 200, Remaining: 0, NextFree: epoch.Add(time.Hour), Reset: epoch.Add(19*time.Minute + time.Hour)},
			{Limit: perDay, Used: 200, Remaining: 800, NextFree: epoch.Add(24 * time.Hour), Reset: epoch.Add(19*time.Minute + 24*time.Hour)},
		}
		assertStatus(t, st, want)
	})

	t.Run("when several windows are full the one freeing last answers", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 2, Window: time.Minute}, {Max: 2, Window: time.Hour}}
		mustAllow(t, lim, "a", limits, true)
		clock.Advance(30 * time.Second)
		mustAllow(t, lim, "a", limits, true)
		clock.Advance(time.Second) // both full: the minute frees at 60s, the hour at 60m
		d := mustAllow(t, lim, "a", limits, false)
		if d.Refused != limits[1] || d.RetryAfter != time.Hour-31*time.Second {
			t.Fatalf("refused %v after %v, want %v after 59m29s", d.Refused, d.RetryAfter, limits[1])
		}
		clock.Advance(d.RetryAfter)
		mustAllow(t, lim, "a", limits, true)
	})

	t.Run("keys are independent", func(t *testing.T) {
		lim, _ := setup(t)
		limits := []Limit{{Max: 1, Window: time.Hour}}
		mustAllow(t, lim, "a", limits, true)
		mustAllow(t, lim, "a", limits, false)
		mustAllow(t, lim, "b", limits, true)
	})

	t.Run("status of an unknown key is empty", func(t *testing.T) {
		lim, _ := setup(t)
		assertStatus(t, mustStatus(t, lim, "nobody", sendLimits), []WindowStatus{
			{Limit: perMinute, Remaining: 20}, {Limit: perHour, Remaining: 200}, {Limit: perDay, Remaining: 1000},
		})
	})

	t.Run("status counts the window and says when it frees", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 3, Window: time.Minute}, {Max: 5, Window: time.Hour}}
		for i := range 4 { // 0s, 20s, 40s, 60s: the 0s one has left the minute at 60s
			if i > 0 {
				clock.Advance(20 * time.Second)
			}
			mustAllow(t, lim, "a", limits, true)
		}
		clock.Advance(10 * time.Second)
		// now 70s: the minute holds 20s, 40s, 60s (full); the hour all four
		assertStatus(t, mustStatus(t, lim, "a", limits), []WindowStatus{
			{Limit: limits[0], Used: 3, Remaining: 0, NextFree: epoch.Add(80 * time.Second), Reset: epoch.Add(120 * time.Second)},
			{Limit: limits[1], Used: 4, Remaining: 1, NextFree: epoch.Add(time.Hour), Reset: epoch.Add(time.Hour + 60*time.Second)},
		})
		// lowering the limit: more used than allowed, room when the max-th newest leaves
		lower := []Limit{{Max: 2, Window: time.Hour}}
		assertStatus(t, mustStatus(t, lim, "a", lower), []WindowStatus{
			{Limit: lower[0], Used: 4, Remaining: 0, NextFree: epoch.Add(time.Hour + 40*time.Second), Reset: epoch.Add(time.Hour + 60*time.Second)},
		})
		if d := mustAllow(t, lim, "a", lower, false); d.RetryAfter != time.Hour-30*time.Second {
			t.Fatalf("lowered limit: retry after %v, want 59m30s", d.RetryAfter)
		}
	})

	t.Run("bad input is refused with INVALID_INPUT", func(t *testing.T) {
		lim, _ := setup(t)
		for _, tc := range invalidInputs {
			t.Run(tc.name, func(t *testing.T) {
				_, err := lim.Allow(ctx, tc.key, tc.limits)
				assertInvalid(t, err, tc.field)
				_, err = lim.Status(ctx, tc.key, tc.limits)
				assertInvalid(t, err, tc.field)
			})
		}
	})

	t.Run("no interval of any window admits more than its limit", func(t *testing.T) {
		lim, clock := setup(t)
		limits := []Limit{{Max: 3, Window: time.Minute}, {Max: 10, Window: 10 * time.Minute}, {Max: 25, Window: time.Hour}}
		if err := checkAgainstModel(lim, clock, limits, 2500, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Fatal(err)
		}
	})
}

// checkAgainstModel makes n decisions at random times (bursts at one
// instant, gaps of milliseconds to minutes) and checks each against a
// brute-force model over every admission so far: the same verdict, the
// same refusing limit and the exact retry time. At the end it checks the
// guarantee itself over the recorded admission times.
func checkAgainstModel(lim Limiter, clock *fakeClock, limits []Limit, n int, rng *rand.Rand) error {
	ctx := context.Background()
	var admitted []time.Time
	for i := range n {
		switch r := rng.IntN(10); {
		case r < 3: // same instant
		case r < 7:
			clock.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
		default:
			clock.Advance(time.Duration(rng.IntN(600)) * time.Second)
		}
		d, err := lim.Allow(ctx, "k", limits)
		if err != nil {
			return err
		}
		want := modelDecision(admitted, d.At, limits)
		if d.Allowed != want.Allowed || d.Refused != want.Refused || d.RetryAfter != want.RetryAfter {
			return fmt.Errorf("decision %d at %v: got %+v, want %+v", i, d.At.Sub(epoch), d, want)
		}
		if d.Allowed {
			admitted = append(admitted, d.At)
		}
	}
	return checkSliding(admitted, limits)
}

// modelDecision is the decision the definition asks for, computed by
// counting every admission in each window.
func modelDecision(admitted []time.Time, now time.Time, limits []Limit) Decision {
	var d Decision
	for _, l := range limits {
		var in []time.Time
		for _, a := range admitted {
			if a.After(now.Add(-l.Window)) {
				in = append(in, a)
			}
		}
		if len(in) >= l.Max {
			if wait := in[len(in)-l.Max].Add(l.Window).Sub(now); wait > d.RetryAfter {
				d.RetryAfter, d.Refused = wait, l
			}
		}
	}
	d.Allowed = d.RetryAfter == 0
	return d
}

// checkSliding reports an interval of some limit's window length holding
// more than its Max of the admission times: with the times sorted, any
// Max+1 consecutive ones must span at least the window.
func checkSliding(admitted []time.Time, limits []Limit) error {
	ts := append([]time.Time(nil), admitted...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	for _, l := range limits {
		for j := 0; j+l.Max < len(ts); j++ {
			if span := ts[j+l.Max].Sub(ts[j]); span < l.Window {
				return fmt.Errorf("limit %v: %d admissions within %v, from %v to %v", l, l.Max+1, span, ts[j].Format(time.RFC3339Nano), ts[j+l.Max].Format(time.RFC3339Nano))
			}
		}
	}
	return nil
}

var invalidInputs = []struct {
	name   string
	key    string
	limits []Limit
	field  string
}{
	{"empty key", "", sendLimits, "key"},
	{"key too long", string(make([]byte, MaxKeyLen+1)), sendLimits, "key"},
	{"brace in key", "a}b", sendLimits, "key"},
	{"no limits", "a", nil, "limits"},
	{"too many limits", "a", make([]Limit, MaxLimits+1), "limits"},
	{"zero max", "a", []Limit{{Max: 0, Window: time.Minute}}, "limits[0].max"},
	{"max too large", "a", []Limit{{Max: MaxPerWindow + 1, Window: time.Minute}}, "limits[0].max"},
	{"zero window", "a", []Limit{{Max: 1}}, "limits[0].window"},
	{"negative window", "a", []Limit{{Max: 1, Window: -time.Minute}}, "limits[0].window"},
	{"window too long", "a", []Limit{{Max: 1, Window: MaxWindow + time.Millisecond}}, "limits[0].window"},
	{"window not whole milliseconds", "a", []Limit{{Max: 1, Window: time.Second + time.Microsecond}}, "limits[0].window"},
	{"windows out of order", "a", []Limit{perHour, perMinute}, "limits[1].window"},
	{"window twice", "a", []Limit{perMinute, {Max: 5, Window: time.Minute}}, "limits[1].window"},
}

func mustAllow(t *testing.T, lim Limiter, key string, limits []Limit, want bool) Decision {
	t.Helper()
	d, err := lim.Allow(context.Background(), key, limits)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed != want {
		t.Fatalf("Allow(%q) = %+v, want allowed=%v", key, d, want)
	}
	if d.Allowed && (d.RetryAfter != 0 || d.Refused != Limit{}) {
		t.Fatalf("admitted with refusal details: %+v", d)
	}
	return d
}

func mustStatus(t *testing.T, lim Limiter, key string, limits []Limit) []WindowStatus {
	t.Helper()
	st, err := lim.Status(context.Background(), key, limits)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func assertStatus(t *testing.T, got, want []WindowStatus) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("status has %d windows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Limit != w.Limit || g.Used != w.Used || g.Remaining != w.Remaining || !g.NextFree.Equal(w.NextFree) || !g.Reset.Equal(w.Reset) {
			t.Errorf("window %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.InvalidInput || e.Field != field || e.Suggestion == "" {
		t.Fatalf("got %v, want INVALID_INPUT on %s with a suggestion", err, field)
	}
	if !errors.Is(err, apperr.New(apperr.InvalidInput, "")) {
		t.Fatalf("errors.Is does not see INVALID_INPUT in %v", err)
	}
}
