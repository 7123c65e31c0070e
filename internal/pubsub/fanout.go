package pubsub

import (
	"sync"
	"sync/atomic"
)

// fanout hands each message a bus receives to the local subscribers of its
// topic. Memory and Redis both deliver through it, so they share one rule for
// full buffers: the subscriber is cut off, nobody waits.
type fanout struct {
	bufferSize int
	stats      *counters
	detach     func(*subscription) // given to every subscription it creates

	closed atomic.Bool
	mu     sync.RWMutex
	topics map[string]map[*subscription]struct{}
}

func newFanout(bufferSize int, stats *counters, detach func(*subscription)) *fanout {
	return &fanout{
		bufferSize: bufferSize,
		stats:      stats,
		detach:     detach,
		topics:     make(map[string]map[*subscription]struct{}),
	}
}

// add creates a subscription to topic. first reports whether it is now the
// topic's only subscriber, which is when Redis must SUBSCRIBE.
func (f *fanout) add(topic string, opts subscribeOptions) (s *subscription, first bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed.Load() {
		return nil, false, ErrClosed
	}
	subs := f.topics[topic]
	if subs == nil {
		subs = make(map[*subscription]struct{})
		f.topics[topic] = subs
	}
	s = &subscription{
		topic:  topic,
		ch:     make(chan Message, f.bufferSize),
		stats:  f.stats,
		detach: f.detach,
		resync: opts.resync,
	}
	subs[s] = struct{}{}
	f.stats.active.Add(1)
	return s, len(subs) == 1, nil
}

// remove forgets s. last reports whether its topic has no subscriber left,
// which is when Redis must UNSUBSCRIBE. Removing twice is harmless.
func (f *fanout) remove(s *subscription) (last bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	subs := f.topics[s.topic]
	if _, ok := subs[s]; !ok {
		return false
	}
	delete(subs, s)
	if len(subs) > 0 {
		return false
	}
	delete(f.topics, s.topic)
	return true
}

// deliver offers a message to every subscriber of topic without waiting for
// any of them. Subscribers share payload, so it must not be modified.
func (f *fanout) deliver(topic string, payload []byte) {
	m := NewMessage(topic, payload)
	var cut []*subscription
	f.mu.RLock()
	for s := range f.topics[topic] {
		if s.offer(m) {
			cut = append(cut, s)
		}
	}
	f.mu.RUnlock()
	for _, s := range cut {
		// Detaching may mean a Redis UNSUBSCRIBE; the caller (a publisher or
		// the Redis reader) must not wait for that.
		go s.detach(s)
	}
}

// resync offers a Resync message to every subscription that asked for one,
// with the same rule for full buffers as deliver.
func (f *fanout) resync() {
	var cut []*subscription
	f.mu.RLock()
	for topic, subs := range f.topics {
		m := NewResync(topic)
		for s := range subs {
			if s.resync && s.offer(m) {
				cut = append(cut, s)
			}
		}
	}
	f.mu.RUnlock()
	for _, s := range cut {
		go s.detach(s)
	}
}

// close ends every subscription with ErrClosed and refuses new ones. It
// reports false if the fanout was already closed.
func (f *fanout) close() bool {
	f.mu.Lock()
	if f.closed.Swap(true) {
		f.mu.Unlock()
		return false
	}
	topics := f.topics
	f.topics = make(map[string]map[*subscription]struct{})
	f.mu.Unlock()
	for _, subs := range topics {
		for s := range subs {
			s.end(ErrClosed)
		}
	}
	return true
}
