package pubsub

import (
	"bytes"
	"context"
)

// Memory is the in-process Bus, the default when no Redis is configured.
// Publishers and subscribers must live in the same process.
type Memory struct {
	stats counters
	fan   *fanout
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an in-process bus. Only opts.BufferSize applies.
func NewMemory(opts Options) *Memory {
	opts = opts.withDefaults()
	m := &Memory{}
	m.fan = newFanout(opts.BufferSize, &m.stats, func(s *subscription) { m.fan.remove(s) })
	return m
}

// Publish hands payload to every current subscriber of topic and returns
// without waiting for any of them to read. The payload is copied, so the
// caller may reuse it.
func (m *Memory) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.fan.closed.Load() {
		return ErrClosed
	}
	m.stats.published.Add(1)
	m.fan.deliver(topic, bytes.Clone(payload))
	return nil
}

// Subscribe starts receiving messages published to topic after it returns.
// WithResync is accepted and has no effect: nothing is ever missed.
func (m *Memory) Subscribe(ctx context.Context, topic string, opts ...SubscribeOption) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, _, err := m.fan.add(topic, applyOptions(opts))
	if err != nil {
		return nil, err
	}
	s.watch(ctx)
	return s, nil
}

// Close ends every subscription with ErrClosed; later calls do nothing.
func (m *Memory) Close() error {
	m.fan.close()
	return nil
}

// Stats returns the bus's counters.
func (m *Memory) Stats() Stats { return m.stats.snapshot() }
