package live_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/live"
	"wagraph/internal/pubsub"
)

type event struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	Last    bool   `json:"last"`
}

const topic pubsub.Topic[event] = "test.events"

func source(snapshot ...event) live.Source[event] {
	return live.Source[event]{
		Topic:    topic,
		Snapshot: func(context.Context) ([]event, error) { return snapshot, nil },
		Key:      func(e event) string { return e.Key },
		Version:  func(e event) int64 { return e.Version },
		Final:    func(e event) bool { return e.Last },
	}
}

// stream pumps a cursor into a channel of buffer size, as a reader that
// sends the events on would, and calls fail with a failure.
func stream(ctx context.Context, bus pubsub.Bus, src live.Source[event], buffer int, fail func(error)) (<-chan event, error) {
	cur, err := live.Open(ctx, bus, src)
	if err != nil {
		return nil, err
	}
	out := make(chan event, buffer)
	go func() {
		defer close(out)
		defer cur.Close()
		for {
			ev, err := cur.Next(ctx)
			if err != nil {
				if !errors.Is(err, live.ErrEnd) {
					fail(err)
				}
				return
			}
			select {
			case out <- ev.Value:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func next(t *testing.T, ch <-chan event) (event, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return event{}, false
	}
}

func publish(t *testing.T, bus pubsub.Bus, e event) {
	t.Helper()
	if err := pubsub.Publish(context.Background(), bus, topic, e); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotThenNewerDeltas(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := stream(ctx, bus, source(event{Key: "a", Version: 3}, event{Key: "b", Version: 1}), 8, func(err error) { t.Errorf("fail(%v)", err) })
	if err != nil {
		t.Fatal(err)
	}
	publish(t, bus, event{Key: "a", Version: 2}) // older than the snapshot: dropped
	publish(t, bus, event{Key: "a", Version: 3}) // same: dropped
	publish(t, bus, event{Key: "b", Version: 2})
	publish(t, bus, event{Key: "a", Version: 4})
	want := []event{{Key: "a", Version: 3}, {Key: "b", Version: 1}, {Key: "b", Version: 2}, {Key: "a", Version: 4}}
	for i, w := range want {
		if got, _ := next(t, ch); got != w {
			t.Fatalf("event %d = %+v, want %+v", i, got, w)
		}
	}
	cancel()
	for range ch { // closes after cancel
	}
}

func TestFinalEventEndsStream(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	defer bus.Close()
	ch, err := stream(context.Background(), bus, source(), 8, func(err error) { t.Errorf("fail(%v)", err) })
	if err != nil {
		t.Fatal(err)
	}
	publish(t, bus, event{Key: "a", Version: 1})
	publish(t, bus, event{Key: "a", Version: 1, Last: true}) // stale: dropped, although final
	publish(t, bus, event{Key: "a", Version: 2, Last: true})
	if got, _ := next(t, ch); got.Last {
		t.Fatalf("first event is final: %+v", got)
	}
	if got, _ := next(t, ch); !got.Last || got.Version != 2 {
		t.Fatalf("second event = %+v, want the final one at version 2", got)
	}
	if _, ok := next(t, ch); ok {
		t.Fatal("stream still open after the final event")
	}
}

func TestSlowReaderGetsTooSlow(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 2})
	defer bus.Close()
	failed := make(chan error, 1)
	ch, err := stream(context.Background(), bus, source(), 1, func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads ch: the stream's buffer, then the bus buffer, fill up.
	for i := 1; i <= 10; i++ {
		publish(t, bus, event{Key: "a", Version: int64(i)})
	}
	for range ch { // drain what was buffered; the channel then closes
	}
	select {
	case err := <-failed:
		if apperr.CodeOf(err) != apperr.SubscriberTooSlow {
			t.Fatalf("fail(%v), want SUBSCRIBER_TOO_SLOW", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow stream was not failed")
	}
}

func TestBusClosedFailsStream(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	failed := make(chan error, 1)
	ch, err := stream(context.Background(), bus, source(), 1, func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	_ = bus.Close()
	for range ch {
	}
	if err := <-failed; apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("fail(%v), want UNAVAILABLE", err)
	}
	if _, err := stream(context.Background(), bus, source(), 1, func(error) {}); apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("Stream on closed bus = %v, want UNAVAILABLE", err)
	}
}

func TestSnapshotErrorIsReturned(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	defer bus.Close()
	boom := errors.New("boom")
	src := source()
	src.Snapshot = func(context.Context) ([]event, error) { return nil, boom }
	if _, err := stream(context.Background(), bus, src, 1, func(error) {}); !errors.Is(err, boom) {
		t.Fatalf("Stream = %v, want the snapshot error", err)
	}
	if n := bus.Stats().ActiveSubscriptions; n != 0 {
		t.Fatalf("%d subscriptions left open after a failed snapshot", n)
	}
}

func TestUndecodableEventFailsStream(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	defer bus.Close()
	failed := make(chan error, 1)
	ch, err := stream(context.Background(), bus, source(), 1, func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), string(topic), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if err := <-failed; apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("fail(%v), want INTERNAL", err)
	}
}

// fakeBus hands every message straight to its subscriptions, so a test
// can also send the Resync marker Redis sends after a broken connection.
type fakeBus struct {
	mu   sync.Mutex
	subs []chan pubsub.Message
}

func (b *fakeBus) Publish(_ context.Context, topic string, payload []byte) error {
	b.send(pubsub.NewMessage(topic, payload))
	return nil
}

func (b *fakeBus) Subscribe(context.Context, string, ...pubsub.SubscribeOption) (pubsub.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan pubsub.Message, 8)
	b.subs = append(b.subs, ch)
	return fakeSubscription{ch}, nil
}

func (b *fakeBus) Close() error { return nil }

func (b *fakeBus) resync() { b.send(pubsub.NewResync(string(topic))) }

func (b *fakeBus) send(m pubsub.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		ch <- m
	}
}

type fakeSubscription struct{ ch chan pubsub.Message }

func (s fakeSubscription) C() <-chan pubsub.Message { return s.ch }
func (fakeSubscription) Err() error                 { return nil }
func (fakeSubscription) Close()                     {}

// After the bus may have lost events, the stream loads the snapshot again
// and sends what is newer than what the subscriber has.
func TestResyncSendsWhatChangedMeanwhile(t *testing.T) {
	bus := &fakeBus{}
	current := []event{{Key: "a", Version: 1}, {Key: "b", Version: 1}}
	snapshotErr := error(nil)
	src := source()
	src.Snapshot = func(context.Context) ([]event, error) { return current, snapshotErr }
	failed := make(chan error, 1)
	ch, err := stream(t.Context(), bus, src, 8, func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	next(t, ch)
	next(t, ch) // the first snapshot: a and b at 1
	publish(t, bus, event{Key: "a", Version: 2})
	if got, _ := next(t, ch); got.Version != 2 {
		t.Fatalf("got %+v", got)
	}

	// a changed twice while events were lost; b did not change.
	current = []event{{Key: "a", Version: 4}, {Key: "b", Version: 1}}
	bus.resync()
	publish(t, bus, event{Key: "a", Version: 3}) // lost before, stale now
	publish(t, bus, event{Key: "b", Version: 2})
	for i, want := range []event{{Key: "a", Version: 4}, {Key: "b", Version: 2}} {
		if got, _ := next(t, ch); got != want {
			t.Fatalf("event %d after the resync = %+v, want %+v", i, got, want)
		}
	}

	// A snapshot that cannot be loaded ends the stream with its error.
	snapshotErr = apperr.New(apperr.Unavailable, "database down")
	bus.resync()
	if _, ok := next(t, ch); ok {
		t.Fatal("stream still open after a failed resync")
	}
	if err := <-failed; apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("fail(%v), want the snapshot's error", err)
	}
}

// Deltas carry the memo their delivery shares with the other subscribers
// who got it; snapshot events, loaded by each subscriber, carry none.
func TestDeltasShareTheirDeliveryMemo(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	defer bus.Close()
	var curs []*live.Cursor[event]
	for range 2 {
		cur, err := live.Open(t.Context(), bus, source(event{Key: "a", Version: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer cur.Close()
		curs = append(curs, cur)
	}
	publish(t, bus, event{Key: "a", Version: 2})
	var memos []*sync.Map
	for _, cur := range curs {
		snap, err := cur.Next(t.Context())
		if err != nil || snap.Shared != nil || snap.Value.Version != 1 {
			t.Fatalf("snapshot event = %+v, %v; want version 1 without a memo", snap, err)
		}
		delta, err := cur.Next(t.Context())
		if err != nil || delta.Shared == nil || delta.Value.Version != 2 {
			t.Fatalf("delta = %+v, %v; want version 2 with a memo", delta, err)
		}
		memos = append(memos, delta.Shared)
	}
	if memos[0] != memos[1] {
		t.Error("two subscribers of one delivery got different memos")
	}
	curs[0].Close()
	if _, err := curs[0].Next(t.Context()); !errors.Is(err, live.ErrEnd) {
		t.Errorf("Next after Close = %v, want ErrEnd", err)
	}
}

// The subscribers of a topic reload the snapshot after a Resync with one
// load, not one each.
func TestSubscribersShareTheReloadAfterAResync(t *testing.T) {
	bus := &fakeBus{}
	var mu sync.Mutex
	loads := 0
	src := source()
	src.Snapshot = func(context.Context) ([]event, error) {
		mu.Lock()
		defer mu.Unlock()
		loads++
		return []event{{Key: "a", Version: int64(loads)}}, nil
	}
	var streams []<-chan event
	for range 3 {
		ch, err := stream(t.Context(), bus, src, 8, func(err error) { t.Errorf("fail(%v)", err) })
		if err != nil {
			t.Fatal(err)
		}
		next(t, ch) // its own first snapshot
		streams = append(streams, ch)
	}
	bus.resync()
	for i, ch := range streams {
		if got, _ := next(t, ch); got.Version != 4 {
			t.Errorf("subscriber %d reloaded %+v, want the one shared load (version 4)", i, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if loads != 4 {
		t.Errorf("%d snapshot loads, want 3 first ones and 1 shared reload", loads)
	}
}

// A version gap means an event was lost (a publish that failed after its
// change was committed): a Gapless stream reloads its snapshot instead of
// showing stale state; a stream that does not promise gapless versions
// does not.
func TestVersionGapReloadsTheSnapshot(t *testing.T) {
	for _, gapless := range []bool{true, false} {
		bus := pubsub.NewMemory(pubsub.Options{})
		t.Cleanup(func() { _ = bus.Close() })
		var (
			mu    sync.Mutex
			state = event{Key: "a", Version: 1}
			loads int
		)
		src := source()
		src.Gapless = gapless
		src.Snapshot = func(context.Context) ([]event, error) {
			mu.Lock()
			defer mu.Unlock()
			loads++
			return []event{state}, nil
		}
		cur, err := live.Open(t.Context(), bus, src)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := cur.Next(t.Context()); err != nil || ev.Value != state {
			t.Fatalf("snapshot = %+v, %v", ev.Value, err)
		}
		// Version 2 was committed but its publish was lost; version 3 is
		// published, and the state now has a detail only the snapshot shows.
		mu.Lock()
		state = event{Key: "a", Version: 3, Last: false}
		mu.Unlock()
		if err := pubsub.Publish(t.Context(), bus, topic, event{Key: "a", Version: 3}); err != nil {
			t.Fatal(err)
		}
		ev, err := cur.Next(t.Context())
		if err != nil || ev.Value.Version != 3 {
			t.Fatalf("after the gap: %+v, %v", ev.Value, err)
		}
		if err := pubsub.Publish(t.Context(), bus, topic, event{Key: "a", Version: 4}); err != nil {
			t.Fatal(err)
		}
		if ev, err := cur.Next(t.Context()); err != nil || ev.Value.Version != 4 {
			t.Fatalf("next event: %+v, %v", ev.Value, err)
		}
		want := 1
		if gapless {
			want = 2
		}
		if loads != want {
			t.Errorf("gapless=%v: snapshot loaded %d times, want %d", gapless, loads, want)
		}
		cur.Close()
	}
}
