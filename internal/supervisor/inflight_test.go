package supervisor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Waiting while work starts from zero is allowed (a WaitGroup used this
// way is reported by -race), and Wait returns only when none runs.
func TestInflightWaitsWhileWorkStarts(t *testing.T) {
	var f inflight
	var running atomic.Int32
	var starters sync.WaitGroup
	for range 8 {
		starters.Add(1)
		go func() {
			defer starters.Done()
			for range 200 {
				f.Add(1)
				running.Add(1)
				go func() {
					time.Sleep(10 * time.Microsecond)
					running.Add(-1)
					f.Done()
				}()
			}
		}()
	}
	for range 200 {
		f.Wait()
	}
	starters.Wait()
	f.Wait()
	if n := running.Load(); n != 0 {
		t.Fatalf("Wait returned with %d still running", n)
	}
}

func TestInflightBelowZeroPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Done without Add should panic")
		}
	}()
	var f inflight
	f.Done()
}
