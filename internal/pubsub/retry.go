package pubsub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// RetryOptions tune Retrying. Zero fields take the defaults.
type RetryOptions struct {
	// Attempts is how many more times a failed publish is tried. Default 5.
	Attempts int
	// Delay is the wait before the first retry; it doubles for each next
	// one. Default 200ms (so about 6s over five retries).
	Delay time.Duration
	// Timeout bounds each retried publish. Default 5s.
	Timeout time.Duration
	// Queue is how many failed publishes may wait for a retry; beyond it a
	// publish fails at once. Default 1024.
	Queue  int
	Logger zerolog.Logger
	// OnLost, when set, is told of each message given up (for metrics).
	OnLost func(topic string)
}

// Retrying is a Bus whose failed publishes are tried again in the
// background, a bounded number of times, instead of being lost: a change is
// committed before it is published, so a publish that fails would otherwise
// leave live views stale until the next change. A publish accepted for a
// retry returns nil; retried messages may arrive after newer ones, which
// live views recognise by their versions. Close stops the retries (and
// closes the bus underneath).
type Retrying struct {
	Bus
	opts    RetryOptions
	queue   chan retry
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	retried atomic.Uint64
	lost    atomic.Uint64
}

type retry struct {
	topic   string
	payload []byte
}

// NewRetrying wraps b.
func NewRetrying(b Bus, opts RetryOptions) *Retrying {
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Delay <= 0 {
		opts.Delay = 200 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	r := &Retrying{Bus: b, opts: opts, queue: make(chan retry, opts.Queue), done: make(chan struct{})}
	r.wg.Add(1)
	go r.loop()
	return r
}

// Publish publishes, and on failure queues the message for retries.
func (r *Retrying) Publish(ctx context.Context, topic string, payload []byte) error {
	err := r.Bus.Publish(ctx, topic, payload)
	if err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	select {
	case <-r.done:
		return err
	default:
	}
	select {
	case r.queue <- retry{topic, payload}:
		r.opts.Logger.Warn().Err(err).Str("topic", topic).Msg("publish failed; retrying in the background")
		return nil
	default:
		r.giveUp(topic)
		return err
	}
}

// Retried counts messages published by a retry; Lost counts those given up
// (retries exhausted, or the queue full).
func (r *Retrying) Retried() uint64 { return r.retried.Load() }

// Lost counts messages that could not be published even by retrying.
func (r *Retrying) Lost() uint64 { return r.lost.Load() }

func (r *Retrying) loop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case m := <-r.queue:
			if !r.retry(m) {
				return
			}
		}
	}
}

// retry tries m again with growing delays; false when Close interrupted it.
func (r *Retrying) retry(m retry) bool {
	delay := r.opts.Delay
	var err error
	for range r.opts.Attempts {
		t := time.NewTimer(delay)
		select {
		case <-r.done:
			t.Stop()
			return false
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
		err = r.Bus.Publish(ctx, m.topic, m.payload)
		cancel()
		if err == nil {
			r.retried.Add(1)
			return true
		}
		if errors.Is(err, ErrClosed) {
			break
		}
		delay *= 2
	}
	r.giveUp(m.topic)
	r.opts.Logger.Error().Err(err).Str("topic", m.topic).Int("attempts", r.opts.Attempts).Msg("publish failed after retries; live views catch up at their next change or resync")
	return true
}

func (r *Retrying) giveUp(topic string) {
	r.lost.Add(1)
	if r.opts.OnLost != nil {
		r.opts.OnLost(topic)
	}
}

// Stats are the bus underneath's counters (when it keeps any) with the
// messages lost after retries.
func (r *Retrying) Stats() Stats {
	var st Stats
	if s, ok := r.Bus.(interface{ Stats() Stats }); ok {
		st = s.Stats()
	}
	st.PublishLost = r.Lost()
	return st
}

// Close stops the retries and closes the bus underneath.
func (r *Retrying) Close() error {
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
	return r.Bus.Close()
}
