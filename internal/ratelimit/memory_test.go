package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestMemoryContract(t *testing.T) {
	runContract(t, func(t *testing.T, now func() time.Time) Limiter {
		return NewMemory(WithClock(now))
	})
}

func TestMemoryForgetsIdleKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	limits := []Limit{{Max: 5, Window: time.Minute}, {Max: 50, Window: time.Hour}}
	for i := range 1000 {
		mustAllow(t, m, fmt.Sprint("idle-", i), limits, true)
	}
	if n := m.Keys(); n != 1000 {
		t.Fatalf("holds %d keys, want 1000", n)
	}
	// Still inside the longest window: nothing may be forgotten.
	clock.Advance(time.Hour - time.Millisecond)
	mustAllow(t, m, "busy", limits, true)
	if n := m.Keys(); n != 1001 {
		t.Fatalf("holds %d keys before their hour is over, want 1001", n)
	}
	clock.Advance(time.Millisecond + sweepEvery)
	mustAllow(t, m, "busy", limits, true)
	if n := m.Keys(); n != 1 {
		t.Fatalf("holds %d keys after the idle ones' longest window, want 1 (the busy one)", n)
	}
}

func TestMemoryLogIsBoundedByLargestMax(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	limits := []Limit{{Max: 7, Window: time.Second}, {Max: 30, Window: time.Hour}}
	for range 10_000 {
		clock.Advance(time.Second)
		_, _ = m.Allow(context.Background(), "k", limits)
	}
	lg := m.shard("k").logs["k"]
	if lg.n != 30 || len(lg.times) != 30 {
		t.Fatalf("log holds %d times in a ring of %d, want 30 in 30", lg.n, len(lg.times))
	}
}

// The limiter is used from many goroutines: the guarantee must hold for
// the decisions they make together.
func TestMemoryConcurrentCallersNeverOverAdmit(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	var (
		mu       sync.Mutex
		admitted []time.Time
		wg       sync.WaitGroup
	)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 500 {
				clock.Advance(time.Duration(rng.IntN(10_000)) * time.Millisecond)
				d, err := m.Allow(context.Background(), "shared", sendLimits)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					admitted = append(admitted, d.At)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := checkSliding(admitted, sendLimits); err != nil {
		t.Fatal(err)
	}
	if len(admitted) < perDay.Max {
		t.Fatalf("only %d admitted over %v: the day window never filled, the test proves little", len(admitted), clock.Now().Sub(epoch))
	}
}

// fixedWindow is the algorithm the package doc warns against: a counter per
// calendar window. The guarantee check must catch it.
type fixedWindow struct {
	now    func() time.Time
	counts map[string]int
}

func (f *fixedWindow) Allow(_ context.Context, key string, limits []Limit) (Decision, error) {
	now := f.now()
	var d Decision
	for _, l := range limits {
		if c := f.counts[fmt.Sprint(key, l, now.Truncate(l.Window))]; c >= l.Max {
			d.Refused, d.RetryAfter = l, now.Truncate(l.Window).Add(l.Window).Sub(now)
		}
	}
	d.At, d.Allowed = now, d.RetryAfter == 0
	if d.Allowed {
		for _, l := range limits {
			f.counts[fmt.Sprint(key, l, now.Truncate(l.Window))]++
		}
	}
	return d, nil
}

func (f *fixedWindow) Status(context.Context, string, []Limit) ([]WindowStatus, error) {
	return nil, nil
}

func TestGuaranteeCheckCatchesFixedWindows(t *testing.T) {
	clock := newFakeClock()
	f := &fixedWindow{now: clock.Now, counts: map[string]int{}}
	limits := []Limit{{Max: 3, Window: time.Minute}, {Max: 10, Window: 10 * time.Minute}, {Max: 25, Window: time.Hour}}
	var admitted []time.Time
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2500 {
		clock.Advance(time.Duration(rng.IntN(20_000)) * time.Millisecond)
		if d, _ := f.Allow(context.Background(), "k", limits); d.Allowed {
			admitted = append(admitted, d.At)
		}
	}
	err := checkSliding(admitted, limits)
	if err == nil {
		t.Fatal("a fixed-window limiter passed the sliding check")
	}
	t.Logf("fixed windows caught: %v", err)
	if err := checkAgainstModel(f, newFakeClock(), limits, 2500, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Fatal("a fixed-window limiter agreed with the sliding-log model")
	}
}
