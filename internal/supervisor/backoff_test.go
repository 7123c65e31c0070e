package supervisor

import (
	"testing"
	"time"
)

func TestBackoffGrowsCapsAndJitters(t *testing.T) {
	s := &Supervisor{opts: Options{ReconnectBaseDelay: time.Second, ReconnectMaxDelay: 10 * time.Second, Jitter: func() float64 { return 0 }}}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	s.opts.Jitter = func() float64 { return 0.999 }
	if got := s.backoff(50); got < 9*time.Second || got > 10*time.Second {
		t.Errorf("backoff(50) with full jitter = %v, want just under the 10s cap", got)
	}
}

func TestSystemClock(t *testing.T) {
	var c Clock = SystemClock{}
	if time.Since(c.Now()) > time.Minute {
		t.Fatal("SystemClock.Now is off")
	}
	fired := make(chan struct{})
	stop := c.AfterFunc(time.Hour, func() { close(fired) })
	if !stop() {
		t.Fatal("stop of a pending timer reported false")
	}
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	<-done
}
