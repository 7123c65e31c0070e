package pubsub

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis is the Bus for running more than one instance: Publish is a Redis
// PUBLISH, and every instance fans what it receives out to its own
// subscribers with the same buffer rule as Memory.
//
// All local subscriptions share one Redis connection (a go-redis PubSub) on
// which each topic with at least one local subscriber is subscribed exactly
// once. When that connection breaks, for example because Redis restarted,
// go-redis dials again and resubscribes every topic, so subscriptions keep
// receiving without noticing. Pub/sub keeps no history, though: Publish
// returns an error while Redis is unreachable, and whatever other instances
// published during the gap is lost.
//
// Publish waits at most Options.PublishTimeout. Once a publish has failed,
// the others fail at once with ErrUnavailable; one publish per
// HealthCheckInterval tries Redis again, and publishing resumes as soon as
// one succeeds or the subscription connection is back. An outage holds up
// the first publisher for the deadline, not every one. Events that could not
// be published are not lost silently: once Redis takes messages again, the
// bus asks every instance (on a channel of its own) to send Resync to its
// subscriptions, whose connection to Redis may never have broken.
type Redis struct {
	client *redis.Client
	ps     *redis.PubSub
	opts   Options
	stats  counters
	fan    *fanout
	gate   publishGate

	// subMu is held from a change of a topic's local subscriber count to the
	// SUBSCRIBE or UNSUBSCRIBE it calls for, so those commands reach Redis in
	// the order the count changed.
	subMu sync.Mutex

	barriers  barriers
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	loops     sync.WaitGroup // receiveLoop and healthLoop
}

var _ Bus = (*Redis)(nil)

// NewRedis returns a bus on client. The bus opens one extra connection of its
// own for subscriptions; Close releases it but leaves client open.
func NewRedis(client *redis.Client, opts Options) *Redis {
	opts = opts.withDefaults()
	r := &Redis{
		client: client,
		// The subscription connection always carries the resync channel;
		// go-redis subscribes it again whenever it reconnects.
		ps:       client.Subscribe(context.Background(), resyncChannel(opts.Prefix)),
		opts:     opts,
		barriers: newBarriers(),
		done:     make(chan struct{}),
	}
	r.gate.interval = r.opts.HealthCheckInterval
	r.fan = newFanout(r.opts.BufferSize, &r.stats, r.detach)
	r.loops.Add(2)
	go r.receiveLoop()
	go r.healthLoop()
	return r
}

// Subscribe starts receiving messages published to topic after it returns:
// it waits until Redis has confirmed the topic's subscription. Setting up is
// bounded by Options.SubscribeTimeout as well as ctx. With WithResync the
// subscription gets a Resync message each time the shared connection came
// back after breaking.
func (r *Redis) Subscribe(ctx context.Context, topic string, opts ...SubscribeOption) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, r.opts.SubscribeTimeout)
	defer cancel()
	s, err := r.attach(setupCtx, topic, applyOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
	}
	// The topic's SUBSCRIBE, sent just now or for an earlier subscriber, was
	// written before this barrier's PING, so once the PING is answered Redis
	// delivers everything published from then on.
	if err := r.barrier(setupCtx); err != nil {
		s.Close()
		return nil, fmt.Errorf("pubsub: subscribe %s: waiting for redis: %w", topic, err)
	}
	s.watch(ctx)
	return s, nil
}

// attach adds a local subscriber to topic and, if it is the first, sends
// SUBSCRIBE.
func (r *Redis) attach(ctx context.Context, topic string, opts subscribeOptions) (*subscription, error) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	s, first, err := r.fan.add(topic, opts)
	if err != nil || !first {
		return s, err
	}
	if err := r.ps.Subscribe(ctx, r.channel(topic)); err != nil {
		r.fan.remove(s)
		s.end(nil)
		// go-redis remembers the channel even when sending SUBSCRIBE failed
		// and would subscribe to it on the next reconnect; make it forget.
		_ = r.ps.Unsubscribe(ctx, r.channel(topic))
		return nil, err
	}
	return s, nil
}

// detach removes a local subscriber and, if it was the topic's last, sends
// UNSUBSCRIBE.
func (r *Redis) detach(s *subscription) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	if !r.fan.remove(s) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.SubscribeTimeout)
	defer cancel()
	// A failure leaves nothing to undo: go-redis forgets the channel before
	// sending UNSUBSCRIBE, so a connection that broke is re-established
	// without it.
	_ = r.ps.Unsubscribe(ctx, r.channel(s.topic))
}

// Ping reports whether the bus works both ways: Redis accepts commands (so
// Publish can succeed) and the shared subscription connection answers. It
// suits a readiness check.
func (r *Redis) Ping(ctx context.Context) error {
	if r.fan.closed.Load() {
		return ErrClosed
	}
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("pubsub: ping redis: %w", err)
	}
	if err := r.barrier(ctx); err != nil {
		return fmt.Errorf("pubsub: ping subscription connection: %w", err)
	}
	return nil
}

// Close ends every subscription with ErrClosed and closes the subscription
// connection. It does not close the client given to NewRedis. Later calls
// do nothing.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.subMu.Lock()
		r.fan.close()
		r.subMu.Unlock()
		close(r.done)
		err = r.ps.Close()
		r.loops.Wait()
	})
	return err
}

// Stats returns the bus's counters. Published counts this instance's
// publishes; Delivered and the rest are about its local subscribers.
func (r *Redis) Stats() Stats { return r.stats.snapshot() }

// channel is the Redis channel carrying topic.
func (r *Redis) channel(topic string) string { return r.opts.Prefix + topic }
