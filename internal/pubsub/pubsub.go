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
	"sync"
)

// ErrSlowSubscriber ends a subscription whose buffer overflowed.
var ErrSlowSubscriber = errors.New("pubsub: subscriber too slow, events were dropped")

// ErrUnavailable is returned by Publish on the Redis bus, without trying,
// while Redis is known to be unreachable (see Redis).
var ErrUnavailable = errors.New("pubsub: redis unreachable, event not published")

// ErrClosed is returned by a closed bus.
var ErrClosed = errors.New("pubsub: bus closed")

// Message is one published event, as raw bytes on a topic. Every local
// subscriber of the topic gets a copy of the same Message; its Payload is
// shared and must not be modified.
type Message struct {
	Topic   string
	Payload []byte
	// Resync marks a message without payload that the bus sends, to the
	// subscriptions that asked for it (WithResync), after it may have missed
	// messages of their topic: its Redis connection broke and was
	// re-established. What was published meanwhile is lost; the subscriber
	// should reload the state it shows.
	Resync bool
	// delivery is shared by the copies a delivery hands to local
	// subscribers, so that Decode runs once per instance, not once per
	// subscriber. Nil for a Message made elsewhere.
	delivery *delivery
}

// delivery is the memo of one delivery of a payload to the local
// subscribers of its topic.
type delivery struct {
	once    sync.Once
	decoded any // the payload decoded as one type; nil when decoding failed
	shared  sync.Map
}

// NewMessage is a delivery of payload on topic, for a Bus to hand to each
// local subscriber: the copies share one memo (Decode, Shared).
func NewMessage(topic string, payload []byte) Message {
	return Message{Topic: topic, Payload: payload, delivery: &delivery{}}
}

// NewResync is a Resync marker for topic, for a Bus to hand to each local
// subscriber that asked for one: the copies share one memo (Shared), so that
// the state they reload can be loaded once.
func NewResync(topic string) Message {
	return Message{Topic: topic, Resync: true, delivery: &delivery{}}
}

// Shared returns memo space shared by every local subscriber that received
// this same delivery, for work that depends only on the message and that
// each of them would otherwise repeat (encoding the event for one GraphQL
// query, reloading a snapshot after a Resync). It is nil for a Message not
// made by NewMessage or NewResync.
func (m Message) Shared() *sync.Map {
	if m.delivery == nil {
		return nil
	}
	return &m.delivery.shared
}

// Bus publishes messages to topics and fans them out to subscribers.
type Bus interface {
	// Publish sends payload to every current subscriber of topic. It never waits
	// for a subscriber to read.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe starts receiving messages published to topic after it returns.
	// The subscription ends when ctx is done, Close is called, or it overflows.
	Subscribe(ctx context.Context, topic string, opts ...SubscribeOption) (Subscription, error)
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

// SubscribeOption adjusts one subscription.
type SubscribeOption func(*subscribeOptions)

type subscribeOptions struct {
	resync bool
}

// WithResync asks for a Resync message whenever the bus may have missed
// messages of the topic (Redis only: the in-process bus loses nothing).
func WithResync() SubscribeOption {
	return func(o *subscribeOptions) { o.resync = true }
}

func applyOptions(opts []SubscribeOption) subscribeOptions {
	var o subscribeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
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

// Decode decodes a message published with Publish on a Topic[T]. The
// subscribers of one delivery share the decoded value (it is decoded once),
// so what it points to must be treated as read-only.
func Decode[T any](m Message) (T, error) {
	if d := m.delivery; d != nil {
		d.once.Do(func() {
			if v, err := decodeJSON[T](m); err == nil {
				d.decoded = v
			}
		})
		if v, ok := d.decoded.(T); ok {
			return v, nil
		}
		// Decoding failed (decode again for the error), or another
		// subscriber decoded the payload as a different type.
	}
	return decodeJSON[T](m)
}

func decodeJSON[T any](m Message) (T, error) {
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		return v, fmt.Errorf("pubsub: decode %s: %w", m.Topic, err)
	}
	return v, nil
}
