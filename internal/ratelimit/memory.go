package ratelimit

import (
	"context"
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// memoryShards spreads keys over this many locks, so that callers on
// different keys rarely wait for each other.
const memoryShards = 128

// sweepEvery is how often Memory forgets the keys whose newest admission has
// left their longest window (at the latest: a key is also reset the moment
// it is used again). It bounds memory by the keys active in the last
// longest window plus one sweep interval.
const sweepEvery = time.Minute

// Memory is the in-process Limiter, for one instance. Each key's log is a
// ring of admission times (8 bytes each) that grows as admissions come, up
// to the largest Max of its limits, so an account that sent 3 messages
// today holds 3 times, not 1,000.
type Memory struct {
	now  func() time.Time
	base time.Time // offsets in logs are nanoseconds since base
	seed maphash.Seed

	shards    [memoryShards]memoryShard
	nextSweep atomic.Int64 // offset at which the next sweep is due
}

type memoryShard struct {
	mu   sync.Mutex
	logs map[string]*admissionLog
	_    [48]byte // one shard per cache line: no false sharing between locks
}

var _ Limiter = (*Memory)(nil)

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock makes the limiter read time from now instead of time.Now, for
// tests that move time by hand. now must not go backwards by more than the
// limiter tolerates: a time before a key's newest admission is taken as
// that admission's time.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) { m.now = now }
}

// NewMemory returns an empty in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{now: time.Now, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(m)
	}
	m.base = m.now()
	m.nextSweep.Store(int64(sweepEvery))
	for i := range m.shards {
		m.shards[i].logs = make(map[string]*admissionLog)
	}
	return m
}

// Allow implements Limiter.
func (m *Memory) Allow(ctx context.Context, key string, limits []Limit) (Decision, error) {
	if err := Validate(key, limits); err != nil {
		return Decision{}, err
	}
	now := m.offset()
	s := m.shard(key)
	s.mu.Lock()
	lg := s.logs[key]
	if lg == nil {
		lg = &admissionLog{}
		s.logs[key] = lg
	}
	now = max(now, lg.newest())
	d := lg.allow(now, limits)
	s.mu.Unlock()
	d.At = m.base.Add(time.Duration(now))
	m.maybeSweep(now)
	return d, nil
}

// Status implements Limiter.
func (m *Memory) Status(ctx context.Context, key string, limits []Limit) ([]WindowStatus, error) {
	if err := Validate(key, limits); err != nil {
		return nil, err
	}
	now := m.offset()
	out := make([]WindowStatus, len(limits))
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	lg := s.logs[key]
	if lg == nil {
		lg = &admissionLog{}
	}
	now = max(now, lg.newest())
	for i, l := range limits {
		out[i] = lg.status(now, l, m.base)
	}
	return out, nil
}

// Keys reports how many keys the limiter holds a log for.
func (m *Memory) Keys() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.logs)
		s.mu.Unlock()
	}
	return n
}

func (m *Memory) offset() int64 { return int64(m.now().Sub(m.base)) }

func (m *Memory) shard(key string) *memoryShard {
	return &m.shards[maphash.String(m.seed, key)%memoryShards]
}

// maybeSweep forgets idle keys when a sweep is due; the one caller that
// wins the race does it, the others go on.
func (m *Memory) maybeSweep(now int64) {
	due := m.nextSweep.Load()
	if now < due || !m.nextSweep.CompareAndSwap(due, now+int64(sweepEvery)) {
		return
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, lg := range s.logs {
			if now >= lg.expires {
				delete(s.logs, k)
			}
		}
		s.mu.Unlock()
	}
}

// admissionLog is one key's sliding log: admission times, oldest first, in
// a ring that never holds more than the largest Max of the limits last used.
type admissionLog struct {
	times   []int64
	head, n int
	// expires is when the newest admission leaves the longest window of
	// the limits it was admitted under: from then on the log decides
	// nothing and the key can be forgotten.
	expires int64
}

// at returns the i-th oldest admission time.
func (lg *admissionLog) at(i int) int64 { return lg.times[(lg.head+i)%len(lg.times)] }

func (lg *admissionLog) newest() int64 {
	if lg.n == 0 {
		return minInt64
	}
	return lg.at(lg.n - 1)
}

const minInt64 = -1 << 63

func (lg *admissionLog) dropOldest() {
	lg.head = (lg.head + 1) % len(lg.times)
	lg.n--
}

// allow decides at now (never before the newest admission) and records an
// admission.
func (lg *admissionLog) allow(now int64, limits []Limit) Decision {
	for lg.n > 0 && lg.at(0) <= now-int64(longest(limits)) {
		lg.dropOldest()
	}
	var d Decision
	for _, l := range limits {
		if lg.n < l.Max {
			continue
		}
		// The Max-th newest admission is still in the window: it is full
		// until that one leaves.
		w := int64(l.Window)
		if t := lg.at(lg.n - l.Max); t > now-w {
			if wait := time.Duration(t + w - now); wait > d.RetryAfter {
				d.RetryAfter, d.Refused = wait, l
			}
		}
	}
	if d.RetryAfter > 0 {
		return d
	}
	lg.push(now, logSize(limits))
	lg.expires = now + int64(longest(limits))
	d.Allowed = true
	return d
}

// push appends t, first dropping the oldest times beyond size-1.
func (lg *admissionLog) push(t int64, size int) {
	for lg.n >= size {
		lg.dropOldest()
	}
	if lg.n == len(lg.times) {
		grown := make([]int64, min(max(2*len(lg.times), 4), size))
		for i := 0; i < lg.n; i++ {
			grown[i] = lg.at(i)
		}
		lg.times, lg.head = grown, 0
	}
	lg.times[(lg.head+lg.n)%len(lg.times)] = t
	lg.n++
}

func (lg *admissionLog) status(now int64, l Limit, base time.Time) WindowStatus {
	w := int64(l.Window)
	first := sort.Search(lg.n, func(i int) bool { return lg.at(i) > now-w })
	used := lg.n - first
	st := WindowStatus{Limit: l, Used: used, Remaining: max(0, l.Max-used)}
	if used > 0 {
		st.NextFree = base.Add(time.Duration(lg.at(first+max(0, used-l.Max)) + w))
		st.Reset = base.Add(time.Duration(lg.newest() + w))
	}
	return st
}
