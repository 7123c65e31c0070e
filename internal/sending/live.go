package sending

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"wagraph/internal/bus"
	"wagraph/internal/live"
)

// RateLimitEvent is an account's rate-limit status after a change: a send
// admitted, a pause set, resumed or expired, limits set or reset. It is
// published on the account's RateLimitTopic.
type RateLimitEvent struct {
	AccountID string `json:"accountId"`
	// Version orders an account's events: the time the status was read, in
	// Unix nanoseconds; a subscriber drops an event older than the last.
	Version int64   `json:"version"`
	Status  *Status `json:"status"`
}

// RateLimitTopic carries one account's rate-limit events.
func RateLimitTopic(accountID string) bus.Topic[RateLimitEvent] {
	return bus.Topic[RateLimitEvent]("sending.ratelimit." + accountID)
}

// WatchRateLimit opens the live stream of accountID's rate-limit status:
// the status now, then the status after every change. NOT_FOUND for an
// unknown account.
func (p *Policy) WatchRateLimit(ctx context.Context, accountID string) (*live.Cursor[RateLimitEvent], error) {
	if p.pub.bus == nil {
		return nil, errNoBus
	}
	return live.Open(ctx, p.pub.bus, live.Source[RateLimitEvent]{
		Topic: RateLimitTopic(accountID),
		Snapshot: func(ctx context.Context) ([]RateLimitEvent, error) {
			ev, err := p.event(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return []RateLimitEvent{ev}, nil
		},
		Key:     func(ev RateLimitEvent) string { return ev.AccountID },
		Version: func(ev RateLimitEvent) int64 { return ev.Version },
	})
}

func (p *Policy) event(ctx context.Context, accountID string) (RateLimitEvent, error) {
	v := p.pub.version(p.now())
	st, err := p.Status(ctx, accountID)
	if err != nil {
		return RateLimitEvent{}, err
	}
	return RateLimitEvent{AccountID: accountID, Version: v, Status: st}, nil
}

// version is at in Unix nanoseconds, made strictly increasing within the
// process, so that two statuses read in the same clock tick (or under a
// stopped test clock) are both newer than the one before.
func (pb *publisher) version(at time.Time) int64 {
	for {
		last := pb.last.Load()
		v := max(at.UnixNano(), last+1)
		if pb.last.CompareAndSwap(last, v) {
			return v
		}
	}
}

// publisher publishes rate-limit events: at once for pauses and limit
// changes, coalesced for admitted sends (at most one per account per
// interval, however many sends), so a busy account costs one status read
// per interval, not one per send.
type publisher struct {
	p        *Policy
	bus      bus.Bus
	interval time.Duration

	last atomic.Int64 // the newest version handed out

	mu      sync.Mutex
	closed  bool
	pending map[string]*time.Timer
}

func newPublisher(p *Policy, b bus.Bus, interval time.Duration) *publisher {
	if interval <= 0 {
		interval = time.Second
	}
	return &publisher{p: p, bus: b, interval: interval, pending: map[string]*time.Timer{}}
}

// changed schedules an event for accountID within the interval, unless
// one is scheduled already.
func (pb *publisher) changed(accountID string) {
	if pb.bus == nil {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.closed || pb.pending[accountID] != nil {
		return
	}
	pb.pending[accountID] = time.AfterFunc(pb.interval, func() {
		pb.mu.Lock()
		delete(pb.pending, accountID)
		closed := pb.closed
		pb.mu.Unlock()
		if !closed {
			pb.publish(accountID)
		}
	})
}

func (pb *publisher) publish(accountID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := pb.p.event(ctx, accountID)
	if err == nil {
		err = bus.Publish(ctx, pb.bus, RateLimitTopic(accountID), ev)
	}
	if err != nil {
		// Live gauges catch up at the next change; the state is in the database.
		pb.p.log.Debug().Err(err).Str("account_id", accountID).Msg("rate limit event not published")
	}
}

// publishNow publishes accountID's status now (a pause or a limit change).
func (p *Policy) publishNow(accountID string) {
	if p.pub.bus == nil {
		return
	}
	p.pub.publish(accountID)
}

// Close stops the coalesced events still scheduled.
func (p *Policy) Close() error {
	pb := p.pub
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.closed = true
	for id, t := range pb.pending {
		t.Stop()
		delete(pb.pending, id)
	}
	return nil
}
