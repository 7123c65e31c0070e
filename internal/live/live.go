// Package live turns bus topics into the streams GraphQL subscriptions send:
// first the current state (snapshot), then every change (deltas), each event
// newer than the last one sent for its key, so a client never sees an update
// go backwards. It knows nothing of GraphQL; graph/ maps the events.
//
// Adding a subscription is declaring a Source: the topic, how to load the
// snapshot, and how to read an event's key and version.
//
// When the bus may have lost events (Redis came back after a break), the
// stream loads the snapshot again and sends whatever is newer than what the
// subscriber has, so a live view never stays stale after an outage.
package live

import (
	"context"
	"errors"

	"wagraph/internal/apperr"
	"wagraph/internal/pubsub"
)

// Source describes one stream of events of type T.
type Source[T any] struct {
	// Topic is where the deltas are published.
	Topic pubsub.Topic[T]
	// Snapshot loads the current state; it runs after the bus subscription is
	// open, so no change is lost between the two.
	Snapshot func(ctx context.Context) ([]T, error)
	// Key groups events whose versions are compared (e.g. the account id).
	Key func(T) string
	// Version orders events of one key; an event not newer than the last one
	// sent for its key is dropped, final or not.
	Version func(T) int64
	// Final, when set, ends the stream after an event for which it is true
	// (e.g. the last QR event of an activation).
	Final func(T) bool
}

// ErrTooSlow ends a stream whose subscriber did not keep up; the client
// should resubscribe to get a fresh snapshot.
var ErrTooSlow = apperr.New(apperr.SubscriberTooSlow, "events were dropped because the subscription was not read fast enough")

// Stream subscribes to src and returns a channel of snapshot-then-delta
// events, closed when ctx ends, the source says Final, or the stream fails.
// fail is called once with the reason before the channel closes when the
// stream ends by failure (ErrTooSlow, bus closed, undecodable event); the
// caller turns it into a GraphQL error.
func Stream[T any](ctx context.Context, bus pubsub.Bus, src Source[T], buffer int, fail func(error)) (<-chan T, error) {
	return StreamMap(ctx, bus, src, buffer, fail, func(ev T) T { return ev })
}

// StreamMap is Stream with each event passed through toOut as it is sent
// (GraphQL resolvers map to their model there, and compute countdowns at
// the time of sending), so that no second goroutine per subscriber is needed.
func StreamMap[T, Out any](ctx context.Context, bus pubsub.Bus, src Source[T], buffer int, fail func(error), toOut func(T) Out) (<-chan Out, error) {
	sub, err := bus.Subscribe(ctx, string(src.Topic), pubsub.WithResync())
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "could not subscribe to live updates")
	}
	var snapshot []T
	if src.Snapshot != nil {
		if snapshot, err = src.Snapshot(ctx); err != nil {
			sub.Close()
			return nil, err
		}
	}
	out := make(chan Out, max(buffer, 1))
	go func() {
		defer close(out)
		defer sub.Close()
		s := streamer[T, Out]{src: src, toOut: toOut, out: out, last: map[string]int64{}}
		for _, ev := range snapshot {
			if !s.emit(ctx, ev) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-sub.C():
				if !ok {
					if err := sub.Err(); err != nil && ctx.Err() == nil {
						fail(streamError(err))
					}
					return
				}
				if msg.Resync {
					if !s.resync(ctx, fail) {
						return
					}
					continue
				}
				ev, err := pubsub.Decode[T](msg)
				if err != nil {
					fail(apperr.Wrap(err, apperr.Internal, "an event could not be read"))
					return
				}
				if !s.emit(ctx, ev) {
					return
				}
			}
		}
	}()
	return out, nil
}

func streamError(err error) error {
	if errors.Is(err, pubsub.ErrSlowSubscriber) {
		return ErrTooSlow
	}
	return apperr.Wrap(err, apperr.Unavailable, "live updates stopped because the event bus closed; resubscribe")
}

type streamer[T, Out any] struct {
	src   Source[T]
	toOut func(T) Out
	out   chan<- Out
	last  map[string]int64
}

// emit sends ev unless it is stale; it reports whether the stream goes on.
// A stale final event is dropped too: the snapshot (or a later event) that
// made it stale already shows what it announced, so ending the stream on it
// would stop a subscriber who has just started following the next round
// (a QR page subscribed right after an activation ended).
func (s *streamer[T, Out]) emit(ctx context.Context, ev T) bool {
	key, version := s.src.Key(ev), s.src.Version(ev)
	if last, seen := s.last[key]; seen && version <= last {
		return true
	}
	s.last[key] = version
	select {
	case s.out <- s.toOut(ev):
	case <-ctx.Done():
		return false
	}
	return !s.isFinal(ev)
}

// resync reloads the snapshot after the bus may have lost events and sends
// what changed meanwhile (emit drops what is not newer). It reports whether
// the stream goes on; a snapshot that cannot be loaded fails the stream, so
// the client resubscribes instead of showing stale state.
func (s *streamer[T, Out]) resync(ctx context.Context, fail func(error)) bool {
	if s.src.Snapshot == nil {
		return true
	}
	snapshot, err := s.src.Snapshot(ctx)
	if err != nil {
		if ctx.Err() == nil {
			fail(err)
		}
		return false
	}
	for _, ev := range snapshot {
		if !s.emit(ctx, ev) {
			return false
		}
	}
	return true
}

func (s *streamer[T, Out]) isFinal(ev T) bool { return s.src.Final != nil && s.src.Final(ev) }
