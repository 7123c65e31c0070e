// Command ratelimit measures the rate limiter's decisions per second: the
// in-process limiter on every core, and the Redis limiter at 32 concurrent
// callers next to the floor it is judged against, a raw EVALSHA of a
// trivial script over 3 keys in one hash slot. The Redis phases alternate
// round by round, so that load from elsewhere on the machine hits them
// alike; the ratios are per round, and their median decides.
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./bench/ratelimit
//	go run ./bench/ratelimit -redis redis://127.0.0.1:6379/0 -rounds 9 -round 2s
//
// Two limiter workloads run over -accounts keys: "send", the production-like
// 20/min, 200/h and 1,000/day (after the first 20 decisions per account,
// refusals: the read-only path), and "admit", generous limits under which
// nearly every decision records an admission (the writing path). Keys are
// written under a prefix of the run's own and deleted at the end. The exit
// status is 1 when the in-process limiter makes fewer than 1,000,000
// decisions per second or the median ratio of a Redis workload to the floor
// is under 0.5.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"wagraph/internal/ratelimit"
)

func main() {
	o := options{}
	flag.StringVar(&o.RedisURL, "redis", os.Getenv("REDIS_URL"), "Redis URL (default $REDIS_URL); empty: in-process only")
	flag.IntVar(&o.Callers, "callers", 32, "concurrent callers of the Redis limiter and of the floor")
	flag.IntVar(&o.Accounts, "accounts", 1000, "keys the decisions are spread over")
	flag.IntVar(&o.Rounds, "rounds", 5, "rounds of each Redis phase")
	flag.DurationVar(&o.Round, "round", time.Second, "length of each phase in a round")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := measure(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit:", err)
		os.Exit(1)
	}
}

type options struct {
	RedisURL string
	Callers  int
	Accounts int
	Rounds   int
	Round    time.Duration
}

var (
	sendLimits = []ratelimit.Limit{{Max: 20, Window: time.Minute}, {Max: 200, Window: time.Hour}, {Max: 1000, Window: 24 * time.Hour}}
	generous   = []ratelimit.Limit{{Max: 1000, Window: 10 * time.Millisecond}, {Max: 100_000, Window: 100 * time.Millisecond}}
)

// floorScript is the trivial script of the floor.
var floorScript = redis.NewScript(`return 1`)

// measure runs the phases and writes the report to w. It fails when a goal
// is missed.
func measure(ctx context.Context, o options, w io.Writer) error {
	if o.Callers < 1 || o.Accounts < 1 || o.Rounds < 1 || o.Round <= 0 {
		return fmt.Errorf("-callers, -accounts, -rounds and -round must be positive")
	}
	keys := make([]string, o.Accounts)
	for i := range keys {
		keys[i] = fmt.Sprintf("account-%08d", i)
	}
	var missed []string

	mem := ratelimit.NewMemory()
	procs := runtime.GOMAXPROCS(0)
	rate, err := phase(ctx, procs, o.Round*2, keys, func(ctx context.Context, key string) error {
		_, err := mem.Allow(ctx, key, generous)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "in-process: %.0f decisions/s on %d goroutines (GOMAXPROCS %d), goal 1000000\n", rate, procs, procs)
	if rate < 1_000_000 {
		missed = append(missed, "in-process under 1,000,000 decisions/s")
	}

	if o.RedisURL != "" {
		ratios, err := redisRounds(ctx, o, keys, w)
		if err != nil {
			return err
		}
		for _, name := range []string{"send", "admit"} {
			med := median(ratios[name])
			fmt.Fprintf(w, "redis %s: median ratio to the floor %.2f, goal 0.50\n", name, med)
			if med < 0.5 {
				missed = append(missed, "redis "+name+" under half the floor")
			}
		}
	}
	if len(missed) > 0 {
		return fmt.Errorf("goal missed: %v", missed)
	}
	return nil
}

// redisRounds alternates the floor and the two limiter workloads and
// returns each workload's ratio to the floor of its round.
func redisRounds(ctx context.Context, o options, keys []string, w io.Writer) (map[string][]float64, error) {
	ropts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return nil, err
	}
	ropts.PoolSize = o.Callers
	client := redis.NewClient(ropts)
	defer client.Close()
	prefix := "wagraph-bench:ratelimit:" + uuid.NewString() + ":"
	defer deletePrefix(client, prefix)

	floor := func(ctx context.Context, key string) error {
		k := prefix + "floor:{" + key + "}"
		return floorScript.Run(ctx, client, []string{k + ":a", k + ":b", k + ":c"}).Err()
	}
	limiter := func(name string, limits []ratelimit.Limit) func(context.Context, string) error {
		lim := ratelimit.NewRedis(client, ratelimit.WithPrefix(prefix+name+":"))
		return func(ctx context.Context, key string) error {
			_, err := lim.Allow(ctx, key, limits)
			return err
		}
	}
	workloads := []struct {
		name string
		call func(context.Context, string) error
	}{{"send", limiter("send", sendLimits)}, {"admit", limiter("admit", generous)}}

	ratios := map[string][]float64{}
	fmt.Fprintf(w, "redis, %d callers over %d keys (decisions/s):\n", o.Callers, len(keys))
	fmt.Fprintf(w, "%6s %10s %10s %10s %7s %7s\n", "round", "floor", "send", "admit", "send/f", "admit/f")
	for round := 1; round <= o.Rounds; round++ {
		base, err := phase(ctx, o.Callers, o.Round, keys, floor)
		if err != nil {
			return nil, err
		}
		rates := make([]float64, len(workloads))
		for i, wl := range workloads {
			if rates[i], err = phase(ctx, o.Callers, o.Round, keys, wl.call); err != nil {
				return nil, err
			}
			ratios[wl.name] = append(ratios[wl.name], rates[i]/base)
		}
		fmt.Fprintf(w, "%6d %10.0f %10.0f %10.0f %7.2f %7.2f\n", round, base, rates[0], rates[1], rates[0]/base, rates[1]/base)
	}
	return ratios, nil
}

// phase runs call from callers goroutines for d, each walking the keys from
// a different start, and returns the calls per second.
func phase(ctx context.Context, callers int, d time.Duration, keys []string, call func(context.Context, string) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		calls   atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	start := time.Now()
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for i := g * len(keys) / callers; ctx.Err() == nil; i = (i + 1) % len(keys) {
				if err := call(ctx, keys[i]); err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstEr = err; cancel() })
					}
					break
				}
				n++
			}
			calls.Add(n)
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return 0, firstEr
	}
	return float64(calls.Load()) / time.Since(start).Seconds(), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func deletePrefix(c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}
