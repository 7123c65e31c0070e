package ratelimit

import (
	"context"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"wagraph/internal/apperr"
	"wagraph/internal/testenv"
)

// redisClient connects to the test Redis (REDIS_URL; CI fails without it).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.PoolSize = 64
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix is a key prefix of the test's own, deleted when it ends, so
// tests share the Redis without seeing each other.
func testPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	prefix := "wagraph-test:ratelimit:" + uuid.NewString() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func TestRedisContract(t *testing.T) {
	runContract(t, func(t *testing.T, now func() time.Time) Limiter {
		c := redisClient(t)
		r := NewRedis(c, WithPrefix(testPrefix(t, c)))
		r.now = now
		return r
	})
}

func TestRedisDecidesOnRedisClock(t *testing.T) {
	c := redisClient(t)
	r := NewRedis(c, WithPrefix(testPrefix(t, c)))
	limits := []Limit{{Max: 1, Window: time.Hour}}
	before := time.Now()
	first := mustAllow(t, r, "acct", limits, true)
	if skew := first.At.Sub(before); skew < -5*time.Second || skew > 5*time.Second {
		t.Fatalf("decision at %v, the local clock said %v: not Redis's clock of this machine", first.At, before)
	}
	second := mustAllow(t, r, "acct", limits, false)
	if want := first.At.Add(time.Hour).Sub(second.At); second.RetryAfter != want || second.Refused != limits[0] {
		t.Fatalf("refused %v after %v, want %v after %v", second.Refused, second.RetryAfter, limits[0], want)
	}
}

func TestRedisKeyLayout(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	prefix := testPrefix(t, c)
	r := NewRedis(c, WithPrefix(prefix))
	clock := newFakeClock()
	r.now = clock.Now
	limits := []Limit{{Max: 2, Window: time.Minute}, {Max: 5, Window: time.Hour}}
	mustAllow(t, r, "acct-1", limits, true)
	clock.Advance(time.Second)
	mustAllow(t, r, "acct-1", limits, true)
	clock.Advance(time.Second)
	mustAllow(t, r, "acct-1", limits, false)

	key := prefix + "{acct-1}"
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key {
		t.Fatalf("keys %v, want only %s", keys, key)
	}
	members, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{float64(epoch.UnixMicro()), float64(epoch.Add(time.Second).UnixMicro())}
	if len(members) != 2 || members[0].Score != want[0] || members[1].Score != want[1] {
		t.Fatalf("log %v, want the two admission times in microseconds %v", members, want)
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= time.Hour-time.Minute || ttl > time.Hour {
		t.Fatalf("log expires in %v, want the longest window (1h)", ttl)
	}
}

func TestRedisSameInstantAdmissionsAreAllKept(t *testing.T) {
	c := redisClient(t)
	r := NewRedis(c, WithPrefix(testPrefix(t, c)))
	clock := newFakeClock()
	r.now = clock.Now
	limits := []Limit{{Max: 3, Window: time.Minute}}
	for range 3 {
		mustAllow(t, r, "a", limits, true)
	}
	mustAllow(t, r, "a", limits, false)
	assertStatus(t, mustStatus(t, r, "a", limits), []WindowStatus{
		{Limit: limits[0], Used: 3, Remaining: 0, NextFree: epoch.Add(time.Minute), Reset: epoch.Add(time.Minute)},
	})
}

func TestRedisLogIsBoundedByLargestMax(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	prefix := testPrefix(t, c)
	r := NewRedis(c, WithPrefix(prefix))
	clock := newFakeClock()
	r.now = clock.Now
	limits := []Limit{{Max: 7, Window: time.Minute}, {Max: 30, Window: time.Hour}}
	for range 100 {
		mustAllow(t, r, "k", limits, true)
		clock.Advance(2 * time.Minute)
	}
	if n := c.ZCard(ctx, prefix+"{k}").Val(); n != 30 {
		t.Fatalf("log holds %d admissions, want 30 (the largest max)", n)
	}
	lowered := []Limit{{Max: 10, Window: time.Hour}}
	clock.Advance(time.Hour)
	mustAllow(t, r, "k", lowered, true)
	if n := c.ZCard(ctx, prefix+"{k}").Val(); n != 10 {
		t.Fatalf("after lowering the limit the log holds %d admissions, want 10", n)
	}
}

// A Redis that restarted (or ran SCRIPT FLUSH) no longer knows the
// script: the limiter loads it again by itself.
func TestRedisLoadsTheScriptAgainAfterAFlush(t *testing.T) {
	server := testenv.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer c.Close()
	r := NewRedis(c)
	limits := []Limit{{Max: 2, Window: time.Hour}}
	mustAllow(t, r, "a", limits, true)
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, r, "a", limits, true)
	mustAllow(t, r, "a", limits, false)
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if st := mustStatus(t, r, "a", limits); st[0].Used != 2 || st[0].Remaining != 0 {
		t.Fatalf("status after a flush: %+v, want 2 used", st[0])
	}
}

func TestRedisUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	r := NewRedis(c)
	_, err = r.Allow(context.Background(), "a", sendLimits)
	if apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("Allow with Redis down: %v, want UNAVAILABLE", err)
	}
	_, err = r.Status(context.Background(), "a", sendLimits)
	if apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("Status with Redis down: %v, want UNAVAILABLE", err)
	}
}

// overAdmission runs 2 limiter instances (each with its own connection
// pool) × 32 goroutines on one key and checks the recorded admission times
// (Redis's clock, returned with each decision) against every window.
func overAdmission(t *testing.T, calls int, now func(rng *rand.Rand) func() time.Time) []time.Time {
	prefix := testPrefix(t, redisClient(t))
	var (
		mu       sync.Mutex
		admitted []time.Time
		wg       sync.WaitGroup
	)
	for inst := range 2 {
		r := NewRedis(redisClient(t), WithPrefix(prefix))
		for g := range 32 {
			rng := rand.New(rand.NewPCG(uint64(inst), uint64(g)))
			lim := *r
			if now != nil {
				lim.now = now(rng)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls {
					d, err := lim.Allow(context.Background(), "shared-account", sendLimits)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						mu.Lock()
						admitted = append(admitted, d.At)
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	if err := checkSliding(admitted, sendLimits); err != nil {
		t.Fatal(err)
	}
	sort.Slice(admitted, func(i, j int) bool { return admitted[i].Before(admitted[j]) })
	return admitted
}

func TestRedisOverAdmissionRealClock(t *testing.T) {
	admitted := overAdmission(t, 100, nil)
	// 6,400 attempts within well under a minute: exactly the minute's 20.
	if span := admitted[len(admitted)-1].Sub(admitted[0]); span < time.Minute && len(admitted) != perMinute.Max {
		t.Fatalf("%d admitted within %v, want %d", len(admitted), span, perMinute.Max)
	}
}

// The same with time running fast (a random 0–10 s per call on a clock
// shared by all callers), so that the hour and day windows fill as well.
func TestRedisOverAdmissionCompressedTime(t *testing.T) {
	clock := newFakeClock()
	admitted := overAdmission(t, 300, func(rng *rand.Rand) func() time.Time {
		var mu sync.Mutex // rng is not safe for concurrent use; one per goroutine anyway
		return func() time.Time {
			mu.Lock()
			step := time.Duration(rng.IntN(10_000)) * time.Millisecond
			mu.Unlock()
			clock.Advance(step)
			return clock.Now()
		}
	})
	if days := admitted[len(admitted)-1].Sub(admitted[0]).Hours() / 24; days < 1 || len(admitted) < perDay.Max {
		t.Fatalf("%d admitted over %.1f days: the day window never filled, the test proves little", len(admitted), days)
	}
}
