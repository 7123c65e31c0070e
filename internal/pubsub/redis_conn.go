package pubsub

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Delays between failed reads of the subscription connection, so that an
// unreachable Redis is not dialled in a tight loop. go-redis itself redials
// and resubscribes; these only pace it.
const (
	minRetryDelay = 50 * time.Millisecond
	maxRetryDelay = time.Second
)

// healthPayload marks the PINGs of healthLoop; barrier tokens differ from it.
const healthPayload = "wagraph-health"

// receiveLoop reads the shared subscription connection until Close: messages
// go to the fanout, pongs complete barriers, and the first read after the
// connection came back sends Resync messages.
//
// Each read has a deadline of two health intervals. healthLoop makes a live
// connection answer well within that, and go-redis treats a read that runs
// into a context deadline as a broken connection: it closes it, dials again
// and resubscribes every topic. A half-open connection is replaced that way
// instead of blocking the read forever.
func (r *Redis) receiveLoop() {
	defer r.loops.Done()
	delay := minRetryDelay
	lost := false // the connection broke since the last successful read
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*r.opts.HealthCheckInterval)
		msg, err := r.ps.Receive(ctx)
		cancel()
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			r.barriers.connectionLost()
			lost = true
			select {
			case <-r.done:
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		delay = minRetryDelay
		if lost {
			// go-redis resubscribed every topic before this read, so what
			// is published from now on arrives; what was published while
			// the connection was down is lost. Subscribers that asked are
			// told to reload their state.
			lost = false
			r.gate.open() // before resync: what subscribers reload includes what is published from now on
			r.fan.resync()
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == resyncChannel(r.opts.Prefix) {
				r.fan.resync() // an instance could not publish some events
			} else if topic, ok := strings.CutPrefix(m.Channel, r.opts.Prefix); ok {
				r.fan.deliver(topic, []byte(m.Payload))
			}
		case *redis.Pong:
			r.barriers.pong(m.Payload)
		}
		// *redis.Subscription replies need no action: Subscribe relies on
		// barriers, which also cover resubscription after a reconnect.
	}
}

// healthLoop pings the subscription connection every HealthCheckInterval so
// that a live connection always has something to read before the deadline of
// receiveLoop. A PING that cannot be written makes go-redis reconnect at once.
// It also announces failed publishes (announceLosses).
func (r *Redis) healthLoop() {
	defer r.loops.Done()
	tick := time.NewTicker(r.opts.HealthCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.HealthCheckInterval)
		_ = r.ps.Ping(ctx, healthPayload)
		cancel()
		r.announceLosses()
	}
}

// barrier returns once Redis has processed every command written to the
// subscription connection before barrier was called. Redis answers the
// commands of one connection in order, so the pong of a PING sent now is that
// proof. If the connection breaks first, the pong is lost with it; go-redis
// resubscribes on the new connection before sending anything else, so
// barrier simply asks again there.
func (r *Redis) barrier(ctx context.Context) error {
	for {
		token, pong, lost := r.barriers.add()
		err := r.ps.Ping(ctx, token)
		if err == nil {
			select {
			case <-pong:
				return nil
			case <-lost:
			case <-ctx.Done():
				err = ctx.Err()
			case <-r.done:
				err = ErrClosed // nobody reads the pong any more
			}
		}
		r.barriers.remove(token)
		if err != nil {
			return err
		}
	}
}

// barriers tracks the PINGs of barrier calls waiting for their pongs.
type barriers struct {
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[string]chan struct{}
	lost    chan struct{} // closed and replaced when the connection breaks
}

func newBarriers() barriers {
	return barriers{waiting: make(map[string]chan struct{}), lost: make(chan struct{})}
}

// add registers a new PING token. pong is closed when its pong arrives, lost
// when the connection breaks.
func (b *barriers) add() (token string, pong, lost <-chan struct{}) {
	token = "wagraph-barrier-" + strconv.FormatUint(b.next.Add(1), 10)
	ch := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting[token] = ch
	return token, ch, b.lost
}

// remove forgets a token whose pong will not be waited for.
func (b *barriers) remove(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.waiting, token)
}

// pong completes the barrier waiting for payload, if any.
func (b *barriers) pong(payload string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.waiting[payload]; ok {
		close(ch)
		delete(b.waiting, payload)
	}
}

// connectionLost wakes every waiting barrier so it sends its PING again.
func (b *barriers) connectionLost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.lost)
	b.lost = make(chan struct{})
}
