package pubsub

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"wagraph/internal/testenv"
)

// TestRedisSurvivesRestart kills a Redis server of its own and starts it again
// on the same port: the subscription made before keeps receiving, without
// the subscriber doing anything.
func TestRedisSurvivesRestart(t *testing.T) {
	t.Parallel()
	server := testenv.StartRedis(t)
	addr := server.Addr

	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	bus := newRedisBus(t, client, Options{HealthCheckInterval: 200 * time.Millisecond})
	sub := subscribe(t, bus, "restart")
	resyncing, err := bus.Subscribe(t.Context(), "restart", WithResync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(resyncing.Close)
	publish(t, bus, "restart", "before")
	if m := receive(t, sub, waitTimeout); string(m.Payload) != "before" {
		t.Fatalf("got %q", m.Payload)
	}
	if m := receive(t, resyncing, waitTimeout); string(m.Payload) != "before" || m.Resync {
		t.Fatalf("the resyncing subscription got %+v", m)
	}

	server.Kill(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	start := time.Now()
	err = bus.Publish(ctx, "restart", []byte("while down"))
	cancel()
	if err == nil {
		t.Fatal("Publish succeeded while Redis was down")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Publish while Redis was down took %s", waited)
	}
	// A second local subscriber needs no SUBSCRIBE, but still cannot be
	// confirmed while Redis is down; its failure leaves the first alone.
	ctx, cancel = context.WithTimeout(t.Context(), 2*time.Second)
	if _, err := bus.Subscribe(ctx, "restart"); err == nil {
		t.Fatal("Subscribe succeeded while Redis was down")
	}
	if err := bus.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while Redis was down")
	}
	cancel()

	server.Start(t)
	// Publish until one message gets through: the bus's connections come back
	// at their own pace, and only messages published after the subscription
	// connection resubscribed can arrive.
	deadline := time.After(15 * time.Second)
	for i := 0; ; i++ {
		_ = bus.Publish(t.Context(), "restart", []byte("after "+strconv.Itoa(i)))
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription ended across the restart: %v", sub.Err())
			}
			if !strings.HasPrefix(string(m.Payload), "after ") {
				t.Fatalf("got %q, want a message published after the restart", m.Payload)
			}
			if sub.Err() != nil || bus.Stats().ActiveSubscriptions != 2 {
				t.Fatalf("Err = %v, Stats = %+v", sub.Err(), bus.Stats())
			}
			pingBus(t, bus)
			// The subscription that asked is told that messages may have
			// been lost, before anything published after the restart.
			if m := receive(t, resyncing, waitTimeout); !m.Resync || m.Topic != "restart" || len(m.Payload) != 0 {
				t.Fatalf("first message after the restart: %+v, want a Resync marker", m)
			}
			if m := receive(t, resyncing, waitTimeout); m.Resync || !strings.HasPrefix(string(m.Payload), "after ") {
				t.Fatalf("after the Resync marker: %+v", m)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no message reached the subscription within 15s of the restart")
		}
	}
}

// TestRedisReplacesSilentConnection cuts the subscription connection off
// without closing it, as a dead network path does: the bus notices the
// missing pongs, reconnects and resubscribes.
func TestRedisReplacesSilentConnection(t *testing.T) {
	t.Parallel()
	direct := newRedisClient(t)
	proxy := startProxy(t, direct.Options().Addr)
	opts := redisOptions(t)
	opts.Addr = proxy.addr()
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	bus := newRedisBus(t, client, Options{HealthCheckInterval: 100 * time.Millisecond})
	channel := bus.channel("silent")

	sub := subscribe(t, bus, "silent")
	if err := direct.Publish(t.Context(), channel, "before").Err(); err != nil {
		t.Fatal(err)
	}
	receive(t, sub, waitTimeout)

	proxy.silenceAll()
	deadline := time.After(15 * time.Second)
	for i := 0; ; i++ {
		if err := direct.Publish(t.Context(), channel, "after "+strconv.Itoa(i)).Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			if !strings.HasPrefix(string(m.Payload), "after ") {
				t.Fatalf("got %q", m.Payload)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no message reached the subscription within 15s of its connection going silent")
		}
	}
}

// proxy forwards TCP connections to a target, and can make the connections
// it has so far go silent: bytes are swallowed both ways while the sockets
// stay open. Connections accepted later work normally.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []*proxyConn
}

type proxyConn struct {
	client, upstream net.Conn
	silent           atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		upstream, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{client: client, upstream: upstream}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		go c.pipe(client, upstream)
		go c.pipe(upstream, client)
	}
}

func (c *proxyConn) pipe(from, to net.Conn) {
	defer c.client.Close()
	defer c.upstream.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		if c.silent.Load() {
			continue
		}
		if _, err := to.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *proxy) silenceAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.silent.Store(true)
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.client.Close()
		c.upstream.Close()
	}
}

// TestRedisPublishDuringOutageIsBounded: when Redis stops answering (a hung
// or partitioned server) or goes away, a publish gives up after
// PublishTimeout and the publishes after it fail at once, instead of each
// waiting seconds for go-redis's own timeouts and retries. Publishing
// resumes by itself when Redis is back.
func TestRedisPublishDuringOutageIsBounded(t *testing.T) {
	t.Parallel()
	outages := []struct {
		name       string
		start, end func(*testenv.RedisProcess, testing.TB)
	}{
		{"paused", (*testenv.RedisProcess).Pause, (*testenv.RedisProcess).Resume},
		{"killed", (*testenv.RedisProcess).Kill, (*testenv.RedisProcess).Start},
	}
	for _, outage := range outages {
		t.Run(outage.name, func(t *testing.T) {
			t.Parallel()
			server := testenv.StartRedis(t)
			t.Cleanup(func() { server.Resume(t) }) // runs before StartRedis's kill
			client := redis.NewClient(&redis.Options{Addr: server.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { client.Close() })
			// The probe interval (HealthCheckInterval) outlasts the budget, so
			// every publish after the first must fail without trying.
			const publishTimeout, budget = 200 * time.Millisecond, 2 * time.Second
			bus := newRedisBus(t, client, Options{PublishTimeout: publishTimeout, HealthCheckInterval: 5 * time.Second})
			publish(t, bus, "outage", "before")

			outage.start(server, t)
			start := time.Now()
			for i := range 20 {
				err := bus.Publish(context.Background(), "outage", []byte("during"))
				if err == nil {
					t.Fatalf("publish %d succeeded during the outage", i)
				}
				if i > 0 && !errors.Is(err, ErrUnavailable) {
					t.Errorf("publish %d: %v, want ErrUnavailable without trying Redis", i, err)
				}
				if took := time.Since(start); took > budget {
					t.Fatalf("%d publishes during the outage took %s (PublishTimeout %s): publishers are held up", i+1, took, publishTimeout)
				}
			}

			outage.end(server, t)
			deadline := time.After(20 * time.Second)
			for {
				err := bus.Publish(context.Background(), "outage", []byte("after"))
				if err == nil {
					break
				}
				select {
				case <-deadline:
					t.Fatalf("publishing did not resume after the outage: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
}

// TestRedisFailedPublishMakesEveryInstanceResync: an event that could not be
// published is not lost silently, even for an instance whose own connection
// to Redis never broke: once Redis takes messages, every instance's
// resyncing subscriptions get a Resync and reload their state.
func TestRedisFailedPublishMakesEveryInstanceResync(t *testing.T) {
	t.Parallel()
	client := newRedisClient(t)
	prefix := testPrefix(t)
	opts := Options{Prefix: prefix, HealthCheckInterval: 100 * time.Millisecond}
	publisher := newRedisBus(t, client, opts)
	other := newRedisBus(t, client, opts)
	resyncing, err := other.Subscribe(t.Context(), "acct", WithResync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(resyncing.Close)
	plain := subscribe(t, other, "acct")

	// The publisher gives up on an event (here its caller does; an outage
	// or a timeout is the same to the subscribers).
	gaveUp, cancel := context.WithCancel(t.Context())
	cancel()
	if err := publisher.Publish(gaveUp, "acct", []byte("lost")); err == nil {
		t.Fatal("a publish with a cancelled context succeeded")
	}
	if m := receive(t, resyncing, waitTimeout); !m.Resync {
		t.Fatalf("the other instance's resyncing subscription got %+v, want a Resync", m)
	}
	// Subscriptions that did not ask for resyncs get nothing extra.
	publish(t, publisher, "acct", "next")
	if m := receive(t, plain, waitTimeout); m.Resync || string(m.Payload) != "next" {
		t.Fatalf("the plain subscription got %+v, want the next event", m)
	}
}
