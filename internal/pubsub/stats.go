package pubsub

import "sync/atomic"

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
