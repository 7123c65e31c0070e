package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"wagraph/internal/ratelimit"
)

// An account may send 2 messages a minute and 5 an hour; the third within
// the minute is refused, with the exact wait. A minute after the first
// send, that one has left the minute's window.
func Example() {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lim := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return now }))
	limits := []ratelimit.Limit{{Max: 2, Window: time.Minute}, {Max: 5, Window: time.Hour}}
	ctx := context.Background()

	for range 3 {
		d, err := lim.Allow(ctx, "account-1", limits)
		if err != nil {
			panic(err)
		}
		if d.Allowed {
			fmt.Println("sent at", d.At.Format("15:04:05"))
		} else {
			fmt.Printf("refused by %s, retry after %s\n", d.Refused, d.RetryAfter)
		}
		now = now.Add(20 * time.Second)
	}
	st, _ := lim.Status(ctx, "account-1", limits)
	for _, w := range st {
		fmt.Printf("%s: %d used, %d remaining\n", w.Limit, w.Used, w.Remaining)
	}
	// Output:
	// sent at 09:00:00
	// sent at 09:00:20
	// refused by 2 per 1m0s, retry after 20s
	// 2 per 1m0s: 1 used, 1 remaining
	// 5 per 1h0m0s: 2 used, 3 remaining
}
