// Package pubsub carries wagraph's domain events between services and
// subscription resolvers: it implements the event bus port (internal/bus)
// twice, Memory (in-process, the default) and Redis (pub/sub, so events
// reach subscribers on every instance). Both pass the same contract suite.
//
// Delivery is at-most-once and never blocks the publisher: every subscription
// has a bounded buffer, and a subscriber that lets it fill up is cut off (its
// channel closes and Err returns ErrSlowSubscriber) rather than silently
// skipping events. A client that sees ErrSlowSubscriber resubscribes and reads a
// fresh snapshot, so it never shows stale state without knowing.
package pubsub

import (
	"context"
	"errors"

	"wagraph/internal/bus"
)

// The port's names, so the implementations and their users read as before.
type (
	// Message is one published event (bus.Message).
	Message = bus.Message
	// Bus publishes messages to topics and fans them out (bus.Bus).
	Bus = bus.Bus
	// Subscription is one subscriber's view of a topic (bus.Subscription).
	Subscription = bus.Subscription
	// SubscribeOption adjusts one subscription (bus.SubscribeOption).
	SubscribeOption = bus.SubscribeOption
	// Topic names a stream of events of type T (bus.Topic).
	Topic[T any] = bus.Topic[T]
	// Stats is a snapshot of a bus's counters (bus.Stats).
	Stats = bus.Stats
)

var (
	// ErrSlowSubscriber ends a subscription whose buffer overflowed.
	ErrSlowSubscriber = bus.ErrSlowSubscriber
	// ErrClosed is returned by a closed bus.
	ErrClosed = bus.ErrClosed
	// ErrUnavailable is returned by Publish on the Redis bus, without
	// trying, while Redis is known to be unreachable (see Redis).
	ErrUnavailable = errors.New("pubsub: redis unreachable, event not published")
)

// NewMessage is a delivery of payload on topic (bus.NewMessage).
func NewMessage(topic string, payload []byte) Message { return bus.NewMessage(topic, payload) }

// NewResync is a Resync marker for topic (bus.NewResync).
func NewResync(topic string) Message { return bus.NewResync(topic) }

// WithResync asks for Resync messages (bus.WithResync).
func WithResync() SubscribeOption { return bus.WithResync() }

// Publish encodes v as JSON and publishes it on topic (bus.Publish).
func Publish[T any](ctx context.Context, b Bus, topic Topic[T], v T) error {
	return bus.Publish(ctx, b, topic, v)
}

// Decode decodes a message published with Publish (bus.Decode).
func Decode[T any](m Message) (T, error) { return bus.Decode[T](m) }

type subscribeOptions struct {
	resync bool
}

func applyOptions(opts []SubscribeOption) subscribeOptions {
	return subscribeOptions{resync: bus.ApplyOptions(opts).Resync}
}
