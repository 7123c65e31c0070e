package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"wagraph/internal/testenv"
)

func TestRedis(t *testing.T) {
	runContract(t, func(t *testing.T) Bus {
		return newRedisBus(t, newRedisClient(t), Options{BufferSize: contractBufferSize})
	})
}

func TestRedisOneSubscribePerTopic(t *testing.T) {
	t.Parallel()
	client := newRedisClient(t)
	prefix := testPrefix(t)
	bus := newRedisBus(t, client, Options{Prefix: prefix})
	channel := prefix + "busy"

	subs := make([]Subscription, 10)
	for i := range subs {
		subs[i] = subscribe(t, bus, "busy")
	}
	if got := numSub(t, client, channel); got != 1 {
		t.Fatalf("PUBSUB NUMSUB with 10 local subscribers = %d, want 1", got)
	}

	// Another instance is another Redis subscriber.
	other := newRedisBus(t, newRedisClient(t), Options{Prefix: prefix})
	subscribe(t, other, "busy")
	if got := numSub(t, client, channel); got != 2 {
		t.Fatalf("PUBSUB NUMSUB with a second instance = %d, want 2", got)
	}
	other.Close()

	for _, sub := range subs[1:] {
		sub.Close()
	}
	pingBus(t, bus)
	if got := numSub(t, client, channel); got != 1 {
		t.Fatalf("PUBSUB NUMSUB with 1 local subscriber left = %d, want 1", got)
	}
	subs[0].Close()
	pingBus(t, bus) // the UNSUBSCRIBE has been processed once this returns
	if got := numSub(t, client, channel); got != 0 {
		t.Fatalf("PUBSUB NUMSUB after every subscriber left = %d, want 0", got)
	}

	// The topic can be taken up again.
	sub := subscribe(t, bus, "busy")
	publish(t, bus, "busy", "again")
	if m := receive(t, sub, waitTimeout); string(m.Payload) != "again" {
		t.Fatalf("got %q", m.Payload)
	}
}

func TestRedisSlowSubscriberLeavesRedis(t *testing.T) {
	t.Parallel()
	client := newRedisClient(t)
	prefix := testPrefix(t)
	bus := newRedisBus(t, client, Options{Prefix: prefix, BufferSize: 1})
	sub := subscribe(t, bus, "slow")
	publish(t, bus, "slow", "fits")
	publish(t, bus, "slow", "overflows")
	pingBus(t, bus) // both messages have been offered to sub
	drain(t, sub, waitTimeout)
	if !errors.Is(sub.Err(), ErrSlowSubscriber) {
		t.Fatalf("Err = %v, want ErrSlowSubscriber", sub.Err())
	}
	// The cut-off subscriber was the topic's last, so the instance
	// unsubscribes, in the background: the Redis reader that found the
	// buffer full must not wait for that.
	deadline := time.Now().Add(waitTimeout)
	for numSub(t, client, prefix+"slow") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("instance still subscribed after its only subscriber was cut off")
		}
		pingBus(t, bus)
	}
}

// TestRedisAcrossInstances is the reason the Redis bus exists: what one
// instance publishes reaches subscribers on another, from the moment
// Subscribe returns.
// It runs over both Redis protocols, which frame pub/sub replies differently.
func TestRedisAcrossInstances(t *testing.T) {
	for _, protocol := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(protocol), func(t *testing.T) {
			t.Parallel()
			newClient := func() *redis.Client {
				opts := redisOptions(t)
				opts.Protocol = protocol
				client := redis.NewClient(opts)
				t.Cleanup(func() { client.Close() })
				return client
			}
			prefix := testPrefix(t)
			publisher := newRedisBus(t, newClient(), Options{Prefix: prefix})
			subscriber := newRedisBus(t, newClient(), Options{Prefix: prefix})
			foreign := newRedisBus(t, newClient(), Options{Prefix: testPrefix(t)})
			ignored := subscribe(t, foreign, "topic-0")

			// Without waiting for Redis to confirm the SUBSCRIBE, a message
			// published right after Subscribe returns would now and then be
			// missed.
			for i := range 50 {
				topic := fmt.Sprintf("topic-%d", i)
				sub := subscribe(t, subscriber, topic)
				publish(t, publisher, topic, "hello")
				if m := receive(t, sub, waitTimeout); m.Topic != topic || string(m.Payload) != "hello" {
					t.Fatalf("got %s %q", m.Topic, m.Payload)
				}
				sub.Close()
			}
			pingBus(t, foreign)
			select {
			case m := <-ignored.C():
				t.Fatalf("bus with another prefix received %s %q", m.Topic, m.Payload)
			default:
			}
		})
	}
}

func TestRedisPing(t *testing.T) {
	t.Parallel()
	bus := newRedisBus(t, newRedisClient(t), Options{Prefix: testPrefix(t)})
	if err := bus.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	bus.Close()
	if err := bus.Ping(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: err = %v, want ErrClosed", err)
	}
}

// TestRedisUnreachable checks that an unreachable Redis gives prompt errors,
// not hangs, and leaves nothing behind.
func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: unusedAddr(t), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	bus := newRedisBus(t, client, Options{SubscribeTimeout: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()

	if _, err := bus.Subscribe(ctx, "t"); err == nil {
		t.Fatal("Subscribe succeeded without Redis")
	}
	if err := bus.Publish(ctx, "t", []byte("x")); err == nil {
		t.Fatal("Publish succeeded without Redis")
	}
	if err := bus.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded without Redis")
	}
	if ctx.Err() != nil {
		t.Fatal("calls hung until the test's deadline")
	}
	if got := bus.Stats(); got != (Stats{}) {
		t.Fatalf("Stats = %+v, want all zero", got)
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{
		BufferSize:          DefaultBufferSize,
		Prefix:              DefaultPrefix,
		SubscribeTimeout:    DefaultSubscribeTimeout,
		HealthCheckInterval: DefaultHealthCheckInterval,
		PublishTimeout:      DefaultPublishTimeout,
	}
	if got != want {
		t.Fatalf("Options{}.withDefaults() = %+v, want %+v", got, want)
	}
	set := Options{BufferSize: 1, Prefix: "p:", SubscribeTimeout: time.Second, HealthCheckInterval: time.Minute, PublishTimeout: time.Millisecond}
	if got := set.withDefaults(); got != set {
		t.Fatalf("withDefaults changed set fields: %+v", got)
	}
}

// redisOptions returns client options for the Redis of REDIS_URL.
func redisOptions(t *testing.T) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	return opts
}

// newRedisClient connects to the Redis of REDIS_URL.
func newRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	client := redis.NewClient(redisOptions(t))
	t.Cleanup(func() { client.Close() })
	return client
}

// newRedisBus returns a bus closed at the end of the test, with a prefix of
// its own unless opts sets one.
func newRedisBus(t *testing.T, client *redis.Client, opts Options) *Redis {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	bus := NewRedis(client, opts)
	t.Cleanup(func() { bus.Close() })
	return bus
}

// testPrefix is a channel prefix no other test, run or package shares.
func testPrefix(t *testing.T) string {
	name := strings.NewReplacer(" ", "_", "/", ".").Replace(t.Name())
	return fmt.Sprintf("wagraph-test:%s:%x:", name, rand.Uint64())
}

// pingBus waits until Redis has processed everything the bus has sent on its
// subscription connection.
func pingBus(t *testing.T, bus *Redis) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := bus.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func numSub(t *testing.T, client *redis.Client, channel string) int64 {
	t.Helper()
	n, err := client.PubSubNumSub(t.Context(), channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n[channel]
}

// unusedAddr returns a local address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
