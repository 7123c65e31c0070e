package supervisor

import "sync"

// inflight counts goroutines running now, like a sync.WaitGroup, except
// that Wait may run while Add starts new ones from zero. Timers, bus
// notices and renewals start work at any moment, so a WaitGroup's rule
// (an Add from zero happens before Wait) cannot be kept, and -race
// reports it when they meet.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero
}

func (f *inflight) Add(delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 && delta > 0 {
		f.idle = make(chan struct{})
	}
	f.n += delta
	switch {
	case f.n < 0:
		panic("supervisor: inflight count below zero")
	case f.n == 0 && delta < 0:
		close(f.idle)
	}
}

func (f *inflight) Done() { f.Add(-1) }

// Wait returns once no goroutine counted runs: at once when none does,
// otherwise when the count next reaches zero.
func (f *inflight) Wait() {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	idle := f.idle
	f.mu.Unlock()
	<-idle
}
