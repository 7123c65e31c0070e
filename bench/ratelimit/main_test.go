package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"wagraph/internal/testenv"
)

// The benchmark's Redis rounds, short: every phase makes decisions, the
// report has a line per round, and the run leaves no keys behind.
func TestRedisRounds(t *testing.T) {
	url := testenv.RedisURL(t)
	var out strings.Builder
	o := options{RedisURL: url, Callers: 4, Accounts: 10, Rounds: 2, Round: 50 * time.Millisecond}
	keys := []string{"a", "b", "c"}
	ratios, err := redisRounds(context.Background(), o, keys, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"send", "admit"} {
		if len(ratios[name]) != 2 || ratios[name][0] <= 0 {
			t.Fatalf("%s ratios %v, want 2 positive", name, ratios[name])
		}
	}
	if lines := strings.Count(out.String(), "\n"); lines != 4 {
		t.Fatalf("report has %d lines, want a header, column names and 2 rounds:\n%s", lines, out.String())
	}
	opts, _ := redis.ParseURL(url)
	c := redis.NewClient(opts)
	defer c.Close()
	if left, err := c.Keys(context.Background(), "wagraph-bench:ratelimit:*").Result(); err != nil || len(left) != 0 {
		t.Fatalf("keys left behind: %v (%v)", left, err)
	}
}

func TestPhaseStopsAtFirstError(t *testing.T) {
	_, err := phase(context.Background(), 4, time.Minute, []string{"a"}, func(context.Context, string) error {
		return io.ErrUnexpectedEOF
	})
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want the callers' error", err)
	}
}
