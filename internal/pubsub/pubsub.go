// Package pubsub carries wagraph's domain events between services and
// subscription resolvers. One Bus interface has two implementations: Memory
// (in-process, the default) and Redis (pub/sub, so events reach subscribers on
// every instance). Both pass the same contract suite.
//
// Delivery is at-most-once and never blocks the publisher: every subscription
// has a bounded buffer, and a subscriber that lets it fill up is cut off (its
// channel closes and Err returns ErrSlowSubscriber) rather than silently
// skipping events. A client that sees ErrSlowSubscriber resubscribes and reads a
// fresh snapshot, so it never shows stale state without knowing.
package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrSlowSubscriber ends a subscription whose buffer overflowed.
var ErrSlowSubscriber = errors.New("pubsub: subscriber too slow, events were dropped")

// ErrClosed is returned by a closed bus.
var ErrClosed = errors.New("pubsub: bus closed")

// Message is one published event, as raw bytes on a topic.
type Message struct {
	Topic   string
	Payload []byte
}

// Bus publishes messages to topics and fans them out to subscribers.
type Bus interface {
	// Publish sends payload to every current subscriber of topic. It never waits
	// for a subscriber to read.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe starts receiving messages published to topic after it returns.
	// The subscription ends when ctx is done, Close is called, or it overflows.
	Subscribe(ctx context.Context, topic string) (Subscription, error)
	// Close ends every subscription and releases the bus's resources.
	Close() error
}

// Subscription is one subscriber's view of a topic.
type Subscription interface {
	// C delivers messages in publish order; it is closed when the subscription ends.
	C() <-chan Message
	// Err tells why C was closed: nil after Close or context end,
	// ErrSlowSubscriber after an overflow, ErrClosed when the bus closed.
	Err() error
	// Close ends the subscription; it is safe to call more than once.
	Close()
}

// Topic names a stream of events of type T, so publishers and subscribers agree
// on the payload type at compile time.
type Topic[T any] string

// Publish encodes v as JSON and publishes it on topic.
func Publish[T any](ctx context.Context, bus Bus, topic Topic[T], v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("pubsub: encode %s: %w", topic, err)
	}
	return bus.Publish(ctx, string(topic), b)
}

// Decode decodes a message published with Publish on a Topic[T].
func Decode[T any](m Message) (T, error) {
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		return v, fmt.Errorf("pubsub: decode %s: %w", m.Topic, err)
	}
	return v, nil
}
