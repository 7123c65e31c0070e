package pubsub

import "time"

// Options tunes a bus. The zero value is usable: every field has a default.
type Options struct {
	// BufferSize is how many messages a subscription may hold unread before it
	// is cut off with ErrSlowSubscriber. Default 64.
	BufferSize int

	// Prefix is put in front of every topic to form the Redis channel name, so
	// several deployments can share one Redis. Default "wagraph:". Redis only.
	Prefix string

	// SubscribeTimeout bounds the Redis round trips of Subscribe (SUBSCRIBE and
	// its confirmation) and of the UNSUBSCRIBE sent when the last local
	// subscriber of a topic leaves. Default 5s. Redis only.
	SubscribeTimeout time.Duration

	// HealthCheckInterval is how often the shared Redis subscription
	// connection is pinged. A connection that stays silent for two intervals
	// is treated as dead, so go-redis reconnects and resubscribes every topic.
	// Default 3s. Redis only.
	HealthCheckInterval time.Duration

	// PublishTimeout bounds one Redis PUBLISH. Events are published after the
	// change they describe is committed, so a publish that cannot finish
	// quickly only delays the caller: the event is lost either way, and live
	// views resync when the bus's connection comes back. Default 500ms. Redis
	// only; the client needs ContextTimeoutEnabled for the deadline to reach
	// the socket (without it, go-redis waits for its own ReadTimeout).
	PublishTimeout time.Duration
}

// Defaults of Options, applied to zero fields.
const (
	DefaultBufferSize          = 64
	DefaultPrefix              = "wagraph:"
	DefaultSubscribeTimeout    = 5 * time.Second
	DefaultHealthCheckInterval = 3 * time.Second
	DefaultPublishTimeout      = 500 * time.Millisecond
)

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.SubscribeTimeout <= 0 {
		o.SubscribeTimeout = DefaultSubscribeTimeout
	}
	if o.HealthCheckInterval <= 0 {
		o.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	return o
}
