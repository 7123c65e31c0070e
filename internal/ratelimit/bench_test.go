package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("account-%08d", i)
	}
	return keys
}

// generous limits that admit nearly every call of the benchmarks: the
// admitting path, which writes.
var generous = []Limit{{Max: 1000, Window: 10 * time.Millisecond}, {Max: 100_000, Window: 100 * time.Millisecond}}

// BenchmarkMemoryAllow measures in-process decisions on all cores, on the
// real clock: "send" uses the production-like 20/min, 200/h, 1,000/day over
// 100,000 accounts (after the first 20 per account, refusals); "admit" uses
// generous limits over 16,384 accounts, so that nearly every call records.
func BenchmarkMemoryAllow(b *testing.B) {
	for _, bc := range []struct {
		name   string
		keys   int
		limits []Limit
	}{
		{"send", 100_000, sendLimits},
		{"admit", 1 << 14, generous},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := NewMemory()
			keys := benchKeys(bc.keys)
			var admitted atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(keys))
				n := int64(0)
				for pb.Next() {
					d, err := m.Allow(context.Background(), keys[i], bc.limits)
					if err != nil {
						b.Error(err)
						return
					}
					if d.Allowed {
						n++
					}
					if i++; i == len(keys) {
						i = 0
					}
				}
				admitted.Add(n)
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(admitted.Load())/float64(b.N), "admitted/op")
		})
	}
}

// trivialScript is the floor the Redis limiter is compared with: a Lua
// script over 3 keys in one hash slot that does nothing, run with EVALSHA
// like the limiter's.
var trivialScript = redis.NewScript(`return 1`)

// BenchmarkRedis compares, in one run, the Redis limiter's decisions with
// the raw 3-key EVALSHA of a trivial script, both at 32 concurrent callers
// over 1,000 accounts. Compare decisions/s of limiter-* with eval3.
func BenchmarkRedis(b *testing.B) {
	c := redisClient(b)
	prefix := testPrefix(b, c)
	keys := benchKeys(1000)
	const callers = 32
	run := func(b *testing.B, call func(ctx context.Context, key string) error) {
		b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			i := rand.IntN(len(keys))
			for pb.Next() {
				if err := call(ctx, keys[i]); err != nil {
					b.Error(err)
					return
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	}
	b.Run("eval3", func(b *testing.B) {
		run(b, func(ctx context.Context, key string) error {
			k := prefix + "floor:{" + key + "}"
			return trivialScript.Run(ctx, c, []string{k + ":a", k + ":b", k + ":c"}).Err()
		})
	})
	for _, bc := range []struct {
		name   string
		limits []Limit
	}{
		{"limiter-send", sendLimits},
		{"limiter-admit", generous},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewRedis(c, WithPrefix(prefix+bc.name+":"))
			run(b, func(ctx context.Context, key string) error {
				_, err := r.Allow(ctx, key, bc.limits)
				return err
			})
		})
	}
}
