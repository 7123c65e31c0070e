package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// resyncChannel is the Redis channel on which an instance that failed to
// publish tells every instance, itself included, to resync its live views.
// Topics never start with "!", so it cannot clash with a topic's channel.
func resyncChannel(prefix string) string { return prefix + "!resync" }

// Publish sends payload to the subscribers of topic on every instance. It
// waits for Redis to accept the message, never for a subscriber to read it,
// and fails (rather than queueing) while Redis is unreachable: after at most
// Options.PublishTimeout, or at once with ErrUnavailable while an earlier
// publish found Redis unreachable and no publish has succeeded since.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if r.fan.closed.Load() {
		return ErrClosed
	}
	probe, ok := r.gate.enter()
	if !ok {
		return fmt.Errorf("pubsub: publish %s: %w", topic, ErrUnavailable)
	}
	pctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	err := r.client.Publish(pctx, r.channel(topic), payload).Err()
	cancel()
	r.gate.leave(probe, err, ctx.Err() != nil)
	if err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	r.stats.published.Add(1)
	return nil
}

// publishGate keeps an outage from holding up every publisher for the
// publish deadline. After a publish fails, the others fail at once; one
// publish per interval tries Redis again (a probe), and the first that
// succeeds, or the subscription connection coming back, opens the gate.
type publishGate struct {
	interval  time.Duration
	mu        sync.Mutex
	failing   bool      // the last publish that finished failed
	probing   bool      // a probe is trying Redis now
	nextProbe time.Time // while failing, when the next probe may start
	lost      bool      // a publish failed since the last announceLosses
}

// enter reports whether a publish may try Redis now, and whether it does so
// as the probe of a failing gate.
func (g *publishGate) enter() (probe, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.failing:
		return false, true
	case g.probing || time.Now().Before(g.nextProbe):
		g.lost = true
		return false, false
	default:
		g.probing = true
		return true, true
	}
}

// leave records how a publish that entered ended: succeeded, failed, or
// abandoned by its caller, which says nothing about Redis.
func (g *publishGate) leave(probe bool, err error, abandoned bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if probe {
		g.probing = false
	}
	if err != nil {
		g.lost = true
	}
	switch {
	case err == nil:
		g.failing = false
	case !abandoned:
		g.failing = true
		g.nextProbe = time.Now().Add(g.interval)
	}
}

// takeLost reports whether a publish failed since the last call.
func (g *publishGate) takeLost() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	lost := g.lost
	g.lost = false
	return lost
}

// markLost records that losses are still to be announced.
func (g *publishGate) markLost() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lost = true
}

// open lets publishes through again: Redis answered on another connection.
func (g *publishGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failing = false
}

// announceLosses runs on every health tick: if publishes failed since the
// last announcement, it asks every instance to resync, so that subscribers
// elsewhere reload what those events would have told them. Until Redis
// takes the announcement, it is tried again on the next tick.
func (r *Redis) announceLosses() {
	if !r.gate.takeLost() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.PublishTimeout)
	defer cancel()
	if err := r.client.Publish(ctx, resyncChannel(r.opts.Prefix), "").Err(); err != nil {
		r.gate.markLost()
	}
}
