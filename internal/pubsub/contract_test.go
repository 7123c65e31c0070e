package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// contractBufferSize is the Options.BufferSize every bus given to
// runContract must be built with.
const contractBufferSize = 16

// waitTimeout bounds every wait for something that should happen promptly.
const waitTimeout = 5 * time.Second

// statser is implemented by both buses.
type statser interface{ Stats() Stats }

// runContract is the behaviour every Bus promises. newBus returns a fresh,
// empty bus with BufferSize contractBufferSize; closing it is newBus's job.
func runContract(t *testing.T, newBus func(t *testing.T) Bus) {
	t.Run("delivers in publish order", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		sub := subscribe(t, bus, "order")
		for i := range contractBufferSize {
			publish(t, bus, "order", strconv.Itoa(i))
		}
		for i := range contractBufferSize {
			m := receive(t, sub, waitTimeout)
			if m.Topic != "order" || string(m.Payload) != strconv.Itoa(i) {
				t.Fatalf("message %d = %s %q, want order %q", i, m.Topic, m.Payload, strconv.Itoa(i))
			}
		}
	})

	t.Run("every subscriber gets every message", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		subs := []Subscription{subscribe(t, bus, "all"), subscribe(t, bus, "all"), subscribe(t, bus, "all")}
		for i := range 5 {
			publish(t, bus, "all", strconv.Itoa(i))
		}
		for n, sub := range subs {
			for i := range 5 {
				if got := receive(t, sub, waitTimeout); string(got.Payload) != strconv.Itoa(i) {
					t.Fatalf("subscriber %d: message %d = %q", n, i, got.Payload)
				}
			}
		}
		if got := bus.(statser).Stats().Delivered; got != 15 {
			t.Errorf("Stats.Delivered = %d, want 15", got)
		}
	})

	t.Run("topics are isolated", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		acct := subscribe(t, bus, "acct")
		acct1 := subscribe(t, bus, "acct.1")
		publish(t, bus, "acct.1", "for acct.1")
		publish(t, bus, "nobody-listens", "lost")
		publish(t, bus, "acct", "for acct")
		// Each topic's first message is its own: nothing leaked across.
		if m := receive(t, acct, waitTimeout); string(m.Payload) != "for acct" {
			t.Fatalf("acct got %q", m.Payload)
		}
		publish(t, bus, "acct.1", "second for acct.1")
		receive(t, acct1, waitTimeout)
		if m := receive(t, acct1, waitTimeout); string(m.Payload) != "second for acct.1" {
			t.Fatalf("acct.1 got %q, want its own second message", m.Payload)
		}
	})

	t.Run("subscriber sees only later messages", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		publish(t, bus, "later", "before")
		sub := subscribe(t, bus, "later")
		publish(t, bus, "later", "after")
		if m := receive(t, sub, waitTimeout); string(m.Payload) != "after" {
			t.Fatalf("got %q, want the message published after Subscribe", m.Payload)
		}
	})

	t.Run("close stops delivery and closes C", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		gone := subscribe(t, bus, "close")
		stays := subscribe(t, bus, "close")
		gone.Close()
		gone.Close() // a second Close is harmless
		if left := drain(t, gone, waitTimeout); len(left) != 0 {
			t.Fatalf("closed subscription delivered %d messages", len(left))
		}
		if err := gone.Err(); err != nil {
			t.Fatalf("Err after Close = %v, want nil", err)
		}
		publish(t, bus, "close", "x")
		if m := receive(t, stays, waitTimeout); string(m.Payload) != "x" {
			t.Fatalf("remaining subscriber got %q", m.Payload)
		}
		if got := bus.(statser).Stats().ActiveSubscriptions; got != 1 {
			t.Errorf("Stats.ActiveSubscriptions = %d, want 1", got)
		}
	})

	t.Run("context end ends the subscription", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		ctx, cancel := context.WithCancel(t.Context())
		sub, err := bus.Subscribe(ctx, "ctx")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		drain(t, sub, waitTimeout)
		if err := sub.Err(); err != nil {
			t.Fatalf("Err after context end = %v, want nil", err)
		}
		if _, err := bus.Subscribe(ctx, "ctx"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Subscribe with a done context: err = %v, want context.Canceled", err)
		}
		sub.Close() // harmless after the context ended it
		if got := bus.(statser).Stats().ActiveSubscriptions; got != 0 {
			t.Errorf("Stats.ActiveSubscriptions = %d, want 0", got)
		}
	})

	t.Run("slow subscriber is cut off, others unaffected", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		slow := subscribe(t, bus, "slow") // never read until the end
		fast := subscribe(t, bus, "slow")
		const batch = contractBufferSize / 2
		const total = 4 * contractBufferSize

		// Publishing runs apart from the test, so a Publish blocked on the slow
		// subscriber shows up as a timeout rather than a hung test. The fast
		// subscriber reads each batch before the next is sent, so only the slow
		// one can overflow.
		published := make(chan error, 1)
		batchRead := make(chan struct{})
		go func() {
			for i := range total {
				if err := bus.Publish(t.Context(), "slow", []byte(strconv.Itoa(i))); err != nil {
					published <- err
					return
				}
				if (i+1)%batch == 0 {
					select {
					case <-batchRead:
					case <-time.After(waitTimeout):
						published <- errors.New("fast subscriber did not read its batch")
						return
					}
				}
			}
			published <- nil
		}()
		for i := range total {
			if m := receive(t, fast, waitTimeout); string(m.Payload) != strconv.Itoa(i) {
				t.Fatalf("fast subscriber: message %d = %q", i, m.Payload)
			}
			if (i+1)%batch == 0 {
				batchRead <- struct{}{}
			}
		}
		select {
		case err := <-published:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("publisher blocked")
		}

		// The slow subscriber keeps what fitted in its buffer, then learns why
		// it stopped.
		got := drain(t, slow, waitTimeout)
		if len(got) != contractBufferSize {
			t.Fatalf("slow subscriber had %d messages buffered, want %d", len(got), contractBufferSize)
		}
		for i, m := range got {
			if string(m.Payload) != strconv.Itoa(i) {
				t.Fatalf("slow subscriber: message %d = %q", i, m.Payload)
			}
		}
		if err := slow.Err(); !errors.Is(err, ErrSlowSubscriber) {
			t.Fatalf("slow Err = %v, want ErrSlowSubscriber", err)
		}
		if err := fast.Err(); err != nil {
			t.Fatalf("fast Err = %v, want nil", err)
		}
		want := Stats{
			Published:           total,
			Delivered:           total + contractBufferSize,
			Dropped:             1,
			SlowSubscribersCut:  1,
			ActiveSubscriptions: 1,
		}
		if got := bus.(statser).Stats(); got != want {
			t.Errorf("Stats = %+v, want %+v", got, want)
		}
	})

	t.Run("bus close ends subscriptions with ErrClosed", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		sub := subscribe(t, bus, "bus-close")
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		drain(t, sub, waitTimeout)
		if err := sub.Err(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Err = %v, want ErrClosed", err)
		}
		sub.Close()
		if err := bus.Publish(t.Context(), "bus-close", []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after Close: err = %v, want ErrClosed", err)
		}
		if _, err := bus.Subscribe(t.Context(), "bus-close"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close: err = %v, want ErrClosed", err)
		}
		if err := bus.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if got := bus.(statser).Stats().ActiveSubscriptions; got != 0 {
			t.Errorf("Stats.ActiveSubscriptions = %d, want 0", got)
		}
	})

	t.Run("typed publish and decode", func(t *testing.T) {
		t.Parallel()
		type accountEvent struct {
			AccountID string   `json:"accountId"`
			State     string   `json:"state"`
			Tags      []string `json:"tags"`
		}
		topic := Topic[accountEvent]("account.events")
		bus := newBus(t)
		sub := subscribe(t, bus, string(topic))
		want := accountEvent{AccountID: "a1", State: "ACTIVE", Tags: []string{"x", "y"}}
		if err := Publish(t.Context(), bus, topic, want); err != nil {
			t.Fatal(err)
		}
		got, err := Decode[accountEvent](receive(t, sub, waitTimeout))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}

		if _, err := Decode[accountEvent](Message{Topic: "t", Payload: []byte("{")}); err == nil {
			t.Error("Decode of a broken payload succeeded")
		}
		if err := Publish(t.Context(), bus, Topic[chan int]("unencodable"), make(chan int)); err == nil {
			t.Error("Publish of an unencodable value succeeded")
		}
	})

	t.Run("subscribers of one delivery share one decode", func(t *testing.T) {
		t.Parallel()
		type inner struct{ N int }
		type event struct {
			P *inner `json:"p"`
		}
		bus := newBus(t)
		a, b := subscribe(t, bus, "memo"), subscribe(t, bus, "memo")
		publish(t, bus, "memo", `{"p":{"N":7}}`)
		ma, mb := receive(t, a, waitTimeout), receive(t, b, waitTimeout)
		x, errX := Decode[event](ma)
		y, errY := Decode[event](mb)
		if errX != nil || errY != nil || x.P == nil || x.P.N != 7 {
			t.Fatalf("decoded %+v %v and %+v %v", x, errX, y, errY)
		}
		if x.P != y.P {
			t.Error("the payload was decoded once per subscriber, want once per delivery")
		}
		// A subscriber reading the payload as another type decodes it itself.
		other, err := Decode[struct {
			P map[string]int `json:"p"`
		}](mb)
		if err != nil || other.P["N"] != 7 {
			t.Errorf("decoded as another type: %+v, %v", other, err)
		}

		// They share one memo too, and the next delivery has a new one.
		if ma.Shared() == nil || ma.Shared() != mb.Shared() {
			t.Fatalf("Shared() = %p and %p, want one memo for both copies", ma.Shared(), mb.Shared())
		}
		ma.Shared().Store("encoded", 1)
		publish(t, bus, "memo", `{"p":{"N":8}}`)
		if _, ok := receive(t, a, waitTimeout).Shared().Load("encoded"); ok {
			t.Error("a later delivery sees the memo of an earlier one")
		}
		if (Message{Topic: "t"}).Shared() != nil {
			t.Error("a Message not delivered by a bus has a memo")
		}
	})

	t.Run("WithResync on a bus that lost nothing adds nothing", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		sub, err := bus.Subscribe(t.Context(), "resync", WithResync())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
		publish(t, bus, "resync", "one")
		if m := receive(t, sub, waitTimeout); m.Resync || string(m.Payload) != "one" {
			t.Fatalf("got %+v, want the published message", m)
		}
	})

	t.Run("concurrent publishers and subscribers", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		const publishers, perPublisher, subscribers = 4, 50, 4
		subs := make([]Subscription, subscribers)
		for i := range subs {
			subs[i] = subscribe(t, bus, "conc")
		}

		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range perPublisher {
					if err := bus.Publish(t.Context(), "conc", fmt.Appendf(nil, "%d:%d", p, i)); err != nil {
						t.Errorf("publisher %d: %v", p, err)
						return
					}
				}
			})
		}
		// Subscriptions come and go on the same and on other topics meanwhile.
		for c := range 4 {
			wg.Go(func() {
				for range 10 {
					sub, err := bus.Subscribe(t.Context(), []string{"conc", "churn"}[c%2])
					if err != nil {
						t.Errorf("churn subscribe: %v", err)
						return
					}
					sub.Close()
				}
			})
		}

		// Each subscriber gets every message, each publisher's in order, unless
		// it was cut off; then it got a gapless prefix and is told so.
		for n, sub := range subs {
			wg.Go(func() {
				next := make([]int, publishers)
				count := 0
				for m := range sub.C() {
					p, i, _ := strings.Cut(string(m.Payload), ":")
					pi, _ := strconv.Atoi(p)
					ii, _ := strconv.Atoi(i)
					if ii != next[pi] {
						t.Errorf("subscriber %d: publisher %d message %d, want %d", n, pi, ii, next[pi])
						return
					}
					next[pi]++
					if count++; count == publishers*perPublisher {
						return
					}
				}
				if err := sub.Err(); !errors.Is(err, ErrSlowSubscriber) {
					t.Errorf("subscriber %d stopped after %d messages with Err %v", n, count, err)
				}
			})
		}
		waitGroup(t, &wg, 4*waitTimeout)
	})
}

// subscribe subscribes to topic for the rest of the test.
func subscribe(t *testing.T, bus Bus, topic string) Subscription {
	t.Helper()
	sub, err := bus.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func publish(t *testing.T, bus Bus, topic, payload string) {
	t.Helper()
	if err := bus.Publish(t.Context(), topic, []byte(payload)); err != nil {
		t.Fatalf("Publish(%q, %q): %v", topic, payload, err)
	}
}

// receive returns sub's next message, failing the test if none arrives within
// timeout or the subscription ends.
func receive(t *testing.T, sub Subscription, timeout time.Duration) Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription ended (Err: %v), want a message", sub.Err())
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %s", timeout)
	}
	return Message{}
}

// drain reads sub until C is closed and returns what was left in it, failing
// the test if C is not closed within timeout.
func drain(t *testing.T, sub Subscription, timeout time.Duration) []Message {
	t.Helper()
	var left []Message
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return left
			}
			left = append(left, m)
		case <-deadline:
			t.Fatalf("subscription not closed within %s", timeout)
		}
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, timeout time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("goroutines still running after %s", timeout)
	}
}
