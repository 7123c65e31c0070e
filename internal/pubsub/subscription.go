package pubsub

import (
	"context"
	"sync"
)

// subscription is the Subscription handed out by both buses: a bounded
// channel that is closed exactly once, with the reason kept for Err.
type subscription struct {
	topic string
	ch    chan Message
	stats *counters
	// detach removes the subscription from its bus (for Redis possibly
	// sending UNSUBSCRIBE). It is never called with mu held.
	detach func(*subscription)
	// resync asks for Resync messages (WithResync).
	resync bool

	mu        sync.Mutex // orders sends on ch with its close
	ended     bool
	err       error
	stopWatch func() bool // stops the context watch; nil until watch is called
}

// C implements Subscription.
func (s *subscription) C() <-chan Message { return s.ch }

// Err implements Subscription.
func (s *subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close implements Subscription.
func (s *subscription) Close() {
	if s.end(nil) {
		s.detach(s)
	}
}

// watch ends the subscription when ctx is done. It is called once, after the
// bus has finished setting the subscription up.
func (s *subscription) watch(ctx context.Context) {
	stop := context.AfterFunc(ctx, s.Close)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		stop()
		return
	}
	s.stopWatch = stop
}

// offer puts m in the buffer without waiting. When the buffer is full the
// subscription is cut off with ErrSlowSubscriber, and offer reports true so
// that the caller detaches it from the bus.
func (s *subscription) offer(m Message) (cut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	if len(s.ch) == cap(s.ch) {
		s.stats.dropped.Add(1)
		s.stats.cut.Add(1)
		s.endLocked(ErrSlowSubscriber)
		return true
	}
	// Count before sending, so a reader that has the message also sees it
	// counted. The send cannot block: mu makes this the only sender, and the
	// buffer has room.
	s.stats.delivered.Add(1)
	s.ch <- m
	return false
}

// end closes C with err as the reason. Only the first call has an effect;
// it reports whether this call was it.
func (s *subscription) end(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.endLocked(err)
	return true
}

func (s *subscription) endLocked(err error) {
	s.ended = true
	s.err = err
	close(s.ch) // messages already buffered stay readable
	s.stats.active.Add(-1)
	if s.stopWatch != nil {
		s.stopWatch()
	}
}
