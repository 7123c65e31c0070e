package pubsub

import "sync/atomic"

// Stats is a snapshot of a bus's counters, for metrics and health pages.
// Counters only grow over the bus's lifetime; ActiveSubscriptions is a gauge.
type Stats struct {
	// Published counts messages this bus accepted for publishing (for Redis:
	// PUBLISH commands that succeeded).
	Published uint64
	// Delivered counts messages placed in a local subscription's buffer; a
	// message reaching three subscribers counts three times.
	Delivered uint64
	// Dropped counts messages a local subscription did not get because its
	// buffer was full. Each cut-off drops exactly the message that overflowed:
	// the subscription ends there, so later messages are not counted.
	Dropped uint64
	// SlowSubscribersCut counts subscriptions ended with ErrSlowSubscriber.
	SlowSubscribersCut uint64
	// ActiveSubscriptions is the number of local subscriptions open now.
	ActiveSubscriptions int64
}

// counters is the live, concurrently updated form of Stats.
type counters struct {
	published atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
	cut       atomic.Uint64
	active    atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Published:           c.published.Load(),
		Delivered:           c.delivered.Load(),
		Dropped:             c.dropped.Load(),
		SlowSubscribersCut:  c.cut.Load(),
		ActiveSubscriptions: c.active.Load(),
	}
}
