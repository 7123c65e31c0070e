package account

import "time"

// Clock tells the time. The service takes it as an option so tests move
// time by hand; the runtime's timers live in internal/supervisor.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }
