package pubsub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flaky fails the first n publishes.
type flaky struct {
	Bus
	mu sync.Mutex
	n  int
}

func (f *flaky) Publish(ctx context.Context, topic string, payload []byte) error {
	f.mu.Lock()
	if f.n > 0 {
		f.n--
		f.mu.Unlock()
		return errors.New("redis: connection refused")
	}
	f.mu.Unlock()
	return f.Bus.Publish(ctx, topic, payload)
}

// A publish that fails after its change was committed is not lost: it is
// retried until it goes through, and a subscriber gets it.
func TestRetryingPublishesWhatFailed(t *testing.T) {
	inner := &flaky{Bus: NewMemory(Options{}), n: 3}
	r := NewRetrying(inner, RetryOptions{Delay: time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	sub, err := r.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(t.Context(), "t", []byte("v1")); err != nil {
		t.Fatalf("publish accepted for retry returned %v", err)
	}
	select {
	case m := <-sub.C():
		if string(m.Payload) != "v1" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the failed publish was never retried")
	}
	if err := r.Close(); err != nil { // waits for the retry loop
		t.Fatal(err)
	}
	if r.Retried() != 1 || r.Lost() != 0 {
		t.Fatalf("retried %d, lost %d", r.Retried(), r.Lost())
	}
}

// Retries are bounded: a bus that never recovers loses the message after
// Attempts retries, and Close does not wait for more.
func TestRetryingGivesUp(t *testing.T) {
	inner := &flaky{Bus: NewMemory(Options{}), n: 1 << 30}
	lost := make(chan string, 1)
	r := NewRetrying(inner, RetryOptions{Attempts: 3, Delay: time.Millisecond, Queue: 1, OnLost: func(topic string) { lost <- topic }})
	if err := r.Publish(t.Context(), "t", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if topic := <-lost; topic != "t" || r.Lost() != 1 {
		t.Fatalf("lost %q (%d)", topic, r.Lost())
	}
	inner.mu.Lock()
	tried := 1<<30 - inner.n
	inner.mu.Unlock()
	if tried != 4 {
		t.Fatalf("publish tried %d times, want 1 + 3 retries", tried)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(t.Context(), "t", []byte("v2")); err == nil {
		t.Fatal("publish after Close succeeded")
	}
}

func TestRetryingStatsCountLostPublishes(t *testing.T) {
	mem := NewMemory(Options{})
	r := NewRetrying(&flaky{Bus: mem, n: 1 << 30}, RetryOptions{Queue: 1, Attempts: 1, Delay: time.Hour})
	t.Cleanup(func() { _ = r.Close() })
	// One message may wait in the retry loop and one in the queue; the
	// third has no room whatever the loop has taken so far.
	var failed int
	for _, m := range []string{"m1", "m2", "m3"} {
		if err := r.Publish(t.Context(), "t", []byte(m)); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("every publish reported success though the retry queue was full")
	}
	if st := r.Stats(); st.PublishLost != uint64(failed) {
		t.Fatalf("stats %+v, want %d lost publishes", st, failed)
	}
}
