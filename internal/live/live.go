// Package live turns bus topics into the streams GraphQL subscriptions send:
// first the current state (snapshot), then every change (deltas), each event
// newer than the last one sent for its key, so a client never sees an update
// go backwards. It knows nothing of GraphQL; graph/ maps the events.
//
// Adding a subscription is declaring a Source: the topic, how to load the
// snapshot, and how to read an event's key and version.
//
// A stream is a Cursor that its reader pulls events from, so no goroutine
// per subscriber sits between the bus and the websocket writer. Every delta
// comes with the memo its delivery shares with the other local subscribers
// that receive it, so that work which only depends on the event (encoding
// it for one GraphQL query) is done once per instance, not once per
// subscriber.
//
// When the bus may have lost events (Redis came back after a break, or a
// version was skipped), the stream loads the snapshot again and sends
// whatever is newer than what the subscriber has, so a live view never stays
// stale after an outage or a failed publish.
package live

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
)

// Source describes one stream of events of type T.
type Source[T any] struct {
	// Topic is where the deltas are published.
	Topic bus.Topic[T]
	// Snapshot loads the current state; it runs after the bus subscription is
	// open, so no change is lost between the two. It must give every
	// subscriber of the topic the same state: after a Resync, one load is
	// shared by all of them.
	Snapshot func(ctx context.Context) ([]T, error)
	// Key groups events whose versions are compared (e.g. the account id).
	Key func(T) string
	// Version orders events of one key; an event not newer than the last one
	// sent for its key is dropped, final or not.
	Version func(T) int64
	// Final, when set, ends the stream after an event for which it is true
	// (e.g. the last QR event of an activation).
	Final func(T) bool
	// Gapless says the versions of a key grow by exactly one with every
	// event published, so an event more than one version ahead of the last
	// one read shows that events were lost (a publish that failed): the
	// stream then loads the snapshot again rather than show stale state.
	Gapless bool
}

// ErrTooSlow ends a stream whose subscriber did not keep up; the client
// should resubscribe to get a fresh snapshot.
var ErrTooSlow = apperr.New(apperr.SubscriberTooSlow, "events were dropped because the subscription was not read fast enough")

// ErrEnd is what Next returns once the stream is over without failing: its
// final event was read, or its context ended.
var ErrEnd = errors.New("live: stream ended")

// Event is one event of a stream.
type Event[T any] struct {
	Value T
	// Shared is memo space shared by every local subscriber that receives
	// the same delivery of this event (bus.Message.Shared); nil for
	// snapshot events, which each subscriber loads for itself.
	Shared *sync.Map
}

// Cursor reads one subscriber's stream: the snapshot, then each newer delta.
// It is read by one goroutine at a time.
type Cursor[T any] struct {
	src     Source[T]
	sub     bus.Subscription
	pending []T // snapshot events not read yet
	last    map[string]int64
	over    bool
}

// Open subscribes to src and loads its snapshot. The stream ends when ctx
// does, after the source's final event, or on failure; Close releases it
// earlier.
func Open[T any](ctx context.Context, b bus.Bus, src Source[T]) (*Cursor[T], error) {
	sub, err := b.Subscribe(ctx, string(src.Topic), bus.WithResync())
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "could not subscribe to live updates")
	}
	c := &Cursor[T]{src: src, sub: sub, last: map[string]int64{}}
	if src.Snapshot != nil {
		if c.pending, err = src.Snapshot(ctx); err != nil {
			sub.Close()
			return nil, err
		}
	}
	return c, nil
}

// Next waits for the stream's next event. It returns ErrEnd when the stream
// is over (after its final event, or when ctx ends); any other error is a
// failure to show the subscriber: ErrTooSlow, the bus closing, an
// undecodable event or a snapshot that could not be reloaded. After an
// error every call returns ErrEnd.
func (c *Cursor[T]) Next(ctx context.Context) (Event[T], error) {
	for !c.over {
		if len(c.pending) > 0 {
			ev := c.pending[0]
			c.pending = c.pending[1:]
			if c.fresh(ev) {
				return Event[T]{Value: ev}, nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return c.stop(nil)
		case msg, ok := <-c.sub.C():
			if !ok {
				if err := c.sub.Err(); err != nil && ctx.Err() == nil {
					return c.stop(streamError(err))
				}
				return c.stop(nil)
			}
			if msg.Resync {
				if err := c.reload(ctx, msg.Shared()); err != nil {
					return c.stop(err)
				}
				continue
			}
			ev, err := bus.Decode[T](msg)
			if err != nil {
				return c.stop(apperr.Wrap(err, apperr.Internal, "an event could not be read"))
			}
			if c.gap(ev) {
				// Reload, then the event itself: whichever is newer wins.
				if err := c.reload(ctx, msg.Shared()); err != nil {
					return c.stop(err)
				}
				c.pending = append(slices.Clip(c.pending), ev)
				continue
			}
			if c.fresh(ev) {
				return Event[T]{Value: ev, Shared: msg.Shared()}, nil
			}
		}
	}
	return Event[T]{}, ErrEnd
}

// Close ends the stream and its bus subscription; calling it again is
// harmless.
func (c *Cursor[T]) Close() {
	c.over = true
	c.sub.Close()
}

// stop ends the stream, with err as the failure to report (ErrEnd if nil).
func (c *Cursor[T]) stop(err error) (Event[T], error) {
	c.Close()
	if err == nil {
		err = ErrEnd
	}
	return Event[T]{}, err
}

// gap reports whether ev shows that events of its key were lost: the source
// is Gapless and ev is more than one version ahead of the last one read.
func (c *Cursor[T]) gap(ev T) bool {
	if !c.src.Gapless || c.src.Snapshot == nil {
		return false
	}
	last, seen := c.last[c.src.Key(ev)]
	return seen && c.src.Version(ev) > last+1
}

// fresh reports whether ev is newer than what was read for its key, and
// if so records it (and ends the stream after it if it is final). A stale
// final event is dropped too: the snapshot (or a later event) that made it
// stale already shows what it announced, so ending the stream on it would
// stop a subscriber who has just started following the next round (a QR
// page subscribed right after an activation ended).
func (c *Cursor[T]) fresh(ev T) bool {
	key, version := c.src.Key(ev), c.src.Version(ev)
	if last, seen := c.last[key]; seen && version <= last {
		return false
	}
	c.last[key] = version
	if c.src.Final != nil && c.src.Final(ev) {
		c.over = true
		c.pending = nil
		c.sub.Close()
	}
	return true
}

// reload loads the snapshot again after the bus may have lost events, so
// that Next sends what changed meanwhile (fresh drops what is not newer). A
// snapshot that cannot be loaded fails the stream, so the client
// resubscribes instead of showing stale state.
//
// All local subscribers of a topic get the same Resync at once (after Redis
// came back); they share one load through its memo rather than each
// querying the database.
func (c *Cursor[T]) reload(ctx context.Context, shared *sync.Map) error {
	if c.src.Snapshot == nil {
		return nil
	}
	var snapshot []T
	var err error
	if load, ok := sharedLoad[T](shared); ok {
		snapshot, err = load.get(ctx, c.src.Snapshot)
	} else {
		snapshot, err = c.src.Snapshot(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // ended, not failed
		}
		return err
	}
	c.pending = snapshot
	return nil
}

// SnapshotTimeout bounds a snapshot load shared by the subscribers of a
// Resync: it runs detached from the subscriber that started it, which may
// go away meanwhile.
const SnapshotTimeout = 30 * time.Second

// snapshotLoad is one snapshot load shared by the subscribers of a Resync,
// kept in its memo under snapshotKey[T].
type snapshotLoad[T any] struct {
	once     sync.Once
	snapshot []T
	err      error
}

type snapshotKey[T any] struct{}

func sharedLoad[T any](shared *sync.Map) (*snapshotLoad[T], bool) {
	if shared == nil {
		return nil, false
	}
	v, _ := shared.LoadOrStore(snapshotKey[T]{}, &snapshotLoad[T]{})
	load, ok := v.(*snapshotLoad[T])
	return load, ok
}

// get loads the snapshot once; the others wait for it and share the
// result, which they only read.
func (l *snapshotLoad[T]) get(ctx context.Context, load func(context.Context) ([]T, error)) ([]T, error) {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SnapshotTimeout)
		defer cancel()
		l.snapshot, l.err = load(ctx)
	})
	return l.snapshot, l.err
}

func streamError(err error) error {
	if errors.Is(err, bus.ErrSlowSubscriber) {
		return ErrTooSlow
	}
	return apperr.Wrap(err, apperr.Unavailable, "live updates stopped because the event bus closed; resubscribe")
}
