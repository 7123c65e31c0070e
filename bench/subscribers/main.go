// Command subscribers measures how fast account status events reach many
// GraphQL websocket subscribers: N clients subscribe to accountStatusChanged
// on one wagraph instance or spread over two instances sharing Redis, events
// are published on the first instance's bus with their send time, and each
// client records when it got them. In the same run it measures the raw Redis
// PUBLISH→SUBSCRIBE latency (go-redis publisher, one subscriber) as the
// floor to compare with.
//
//	go run ./bench/subscribers -n 1000 -instances 2 -events 200 -rate 20 -burst 32
//
// Instances run in this process (app.New served on loopback, as in the
// server), over one SQLite file and the Redis at REDIS_URL. The clients run
// in this process too, so they share the CPU with the servers. See
// docs/benchmarks.md.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/app"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/config"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
)

// query is what an admin app's account list would ask for.
const query = `subscription { accountStatusChanged { accountId version change { to at reason { code } } account { id name status phoneNumber } } }`

func main() { os.Exit(command(os.Args[1:], os.Stdout, os.Stderr)) }

// settings are the benchmark's flags.
type settings struct {
	n, instances, events, burst int
	rate                        float64
	redisURL                    string
	cpuProfile, trace           string
}

// command runs the benchmark with args and returns the exit code.
func command(args []string, stdout, stderr io.Writer) int {
	var s settings
	fs := flag.NewFlagSet("subscribers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.n, "n", 100, "concurrent websocket subscribers")
	fs.IntVar(&s.instances, "instances", 1, "wagraph instances sharing Redis (1 or 2); subscribers are spread evenly")
	fs.IntVar(&s.events, "events", 100, "events to publish at -rate, for latency")
	fs.Float64Var(&s.rate, "rate", 20, "events published per second")
	fs.IntVar(&s.burst, "burst", 32, "events to publish back to back afterwards, for throughput (0: none)")
	fs.StringVar(&s.redisURL, "redis", cmp.Or(os.Getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"), "Redis URL")
	fs.StringVar(&s.cpuProfile, "cpuprofile", "", "write a CPU profile of the publishing phases to this file")
	fs.StringVar(&s.trace, "trace", "", "write an execution trace of the publishing phases to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if s.instances < 1 || s.instances > 2 || s.n < 1 || s.events < 1 || s.rate <= 0 || s.burst < 0 {
		fmt.Fprintln(stderr, "subscribers: need -n ≥ 1, -instances 1 or 2, -events ≥ 1, -rate > 0, -burst ≥ 0")
		return 2
	}
	if err := run(stdout, s); err != nil {
		fmt.Fprintln(stderr, "subscribers:", err)
		return 1
	}
	return 0
}

func run(w io.Writer, s settings) error {
	n, instances, events, burst, rate := s.n, s.instances, s.events, s.burst, s.rate
	if err := raiseFileLimit(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interval := time.Duration(float64(time.Second) / rate)

	floor, err := redisFloor(ctx, s.redisURL, events, interval)
	if err != nil {
		return fmt.Errorf("redis floor: %w", err)
	}

	dir, err := os.MkdirTemp("", "wagraph-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var servers []*instance
	for i := range instances {
		srv, err := startInstance(ctx, i, s.redisURL, "sqlite:"+filepath.Join(dir, "bench.db"))
		if err != nil {
			return err
		}
		defer srv.close()
		servers = append(servers, srv)
	}
	// One account, so that each subscriber's snapshot tells it is subscribed.
	acct, err := servers[0].app.Accounts.Create(ctx, account.CreateInput{Name: "Bench"})
	if err != nil {
		return err
	}
	_, token, err := servers[0].app.Auth.Create(ctx, "bench", auth.Viewer)
	if err != nil {
		return err
	}

	start := time.Now()
	clients, err := connect(ctx, servers, n, token, events, events+burst)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wagraph subscribers benchmark: %d subscribers on %d instance(s), %d events at %.0f/s, then a burst of %d (GOMAXPROCS %d)\n",
		n, instances, events, rate, burst, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "  connected and subscribed in %v\n", time.Since(start).Round(time.Millisecond))
	if s.cpuProfile != "" {
		f, err := os.Create(s.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if s.trace != "" {
		f, err := os.Create(s.trace)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}

	// Paced: the latency of each event on its own.
	pub := publisher{bus: servers[0].app.Bus, acct: acct}
	publishStart := time.Now()
	for i := range events {
		if err := pub.publish(ctx); err != nil {
			return err
		}
		time.Sleep(time.Until(publishStart.Add(time.Duration(i+1) * interval)))
	}
	lastReceive := waitDelivered(clients, events, 30*time.Second)
	lat, missing, failed := collect(clients, 0, events)
	window := lastReceive.Sub(publishStart).Seconds()
	fmt.Fprintf(w, "  paced: delivered %d of %d (%d missing, %d subscriptions ended early), %.0f deliveries/s over %.2fs\n",
		len(lat), n*events, missing, failed, float64(len(lat))/window, window)
	fmt.Fprintf(w, "  publish→receive  p50 %8s  p90 %8s  p99 %8s  max %8s\n", pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100))
	fmt.Fprintf(w, "  redis floor      p50 %8s  p90 %8s  p99 %8s  max %8s  (go-redis PUBLISH → 1 subscriber, same rate)\n",
		pct(floor, 50), pct(floor, 90), pct(floor, 99), pct(floor, 100))
	budget := 2*pctDur(floor, 99) + 5*time.Millisecond
	verdict := "within"
	if pctDur(lat, 99) > budget {
		verdict = "NOT within"
	}
	fmt.Fprintf(w, "  p99 is %s the goal of 2×floor p99 + 5ms = %s\n", verdict, budget.Round(10*time.Microsecond))

	// Burst: as fast as the bus takes them, for throughput. A burst longer
	// than PUBSUB_BUFFER (64) can cut subscribers off, by design.
	if burst == 0 {
		return nil
	}
	burstStart := time.Now()
	for range burst {
		if err := pub.publish(ctx); err != nil {
			return err
		}
	}
	lastReceive = waitDelivered(clients, events+burst, 60*time.Second)
	blat, missing, failed := collect(clients, events, burst)
	took := lastReceive.Sub(burstStart).Seconds()
	fmt.Fprintf(w, "  burst: delivered %d of %d (%d missing, %d subscriptions ended early) in %.2fs: %.1f events/s to every subscriber, %.0f deliveries/s; p99 %s\n",
		len(blat), n*burst, missing, failed, took, float64(burst)/took, float64(len(blat))/took, pct(blat, 99))
	return nil
}

// publisher publishes status events of one account, as the account service
// does, with the send time as the change's time and increasing versions.
type publisher struct {
	bus     pubsub.Bus
	acct    *account.Account
	version int64
}

func (p *publisher) publish(ctx context.Context) error {
	p.version++
	ev := account.StatusEvent{
		StatusChange: account.StatusChange{
			AccountID: p.acct.ID, Version: p.acct.Version + p.version, From: account.StatusActive, To: account.StatusActive,
			Reason: account.Reason{Code: account.ReasonConnected, Message: "benchmark"}, At: time.Now(),
		},
		Account: p.acct,
	}
	return pubsub.Publish(ctx, p.bus, account.AllStatusTopic, ev)
}

// collect gathers the latencies of events [from, from+count) of every
// client, and how many of those are missing and how many clients failed.
func collect(clients []*client, from, count int) (lat []time.Duration, missing, failed int) {
	for _, c := range clients {
		c.mu.Lock()
		got := c.latencies[min(from, len(c.latencies)):min(from+count, len(c.latencies))]
		lat = append(lat, got...)
		missing += count - len(got)
		if c.err != nil {
			failed++
		}
		c.mu.Unlock()
	}
	return lat, missing, failed
}

// instance is one wagraph app served on loopback.
type instance struct {
	app *app.App
	srv *http.Server
	url string
}

func startInstance(ctx context.Context, i int, redisURL, dbURL string) (*instance, error) {
	env := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "LOG_LEVEL": "warn", "LOG_FORMAT": "console",
		"WS_MAX_SUBSCRIPTIONS": "10",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	log, err := observe.NewLogger(zerolog.ConsoleWriter{Out: os.Stderr}, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, log.With().Int("instance", i).Logger())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return nil, err
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &instance{app: a, srv: srv, url: "ws://" + ln.Addr().String() + "/graphql"}, nil
}

func (s *instance) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.app.Close()
}

// client is one subscriber and what it received.
type client struct {
	ws        *apptest.WS
	mu        sync.Mutex
	latencies []time.Duration
	err       error
	marks     map[int]chan struct{} // closed once that many events arrived, or reading stopped
}

// waitFor returns a channel closed once count events arrived; count must be
// one of the marks given to subscribe.
func (c *client) waitFor(count int) <-chan struct{} { return c.marks[count] }

// connect opens n subscribers, round robin over the instances, and returns
// once each has received its snapshot.
func connect(ctx context.Context, servers []*instance, n int, token string, marks ...int) ([]*client, error) {
	clients := make([]*client, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := subscribe(ctx, servers[i%len(servers)].url, token, marks...)
			if err != nil {
				errs <- fmt.Errorf("subscriber %d: %w", i, err)
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return clients, nil
}

// subscribe opens one subscriber that reads until the last of marks (event
// counts, ascending) arrived.
func subscribe(ctx context.Context, url, token string, marks ...int) (*client, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dialCtx, url, &websocket.DialOptions{Subprotocols: []string{apptest.TransportWS}})
	if err != nil {
		return nil, err
	}
	ws := &apptest.WS{Conn: conn}
	if err := ws.Send(dialCtx, "connection_init", "", map[string]any{"Authorization": "Bearer " + token}); err != nil {
		return nil, err
	}
	if m, err := ws.ReadSkipping(dialCtx, "ping"); err != nil || m.Type != "connection_ack" {
		return nil, fmt.Errorf("connection_init: %v %v", m.Type, err)
	}
	if err := ws.Send(dialCtx, "subscribe", "1", map[string]any{"query": query}); err != nil {
		return nil, err
	}
	if m, err := ws.ReadSkipping(dialCtx, "ping"); err != nil || m.Type != "next" {
		return nil, fmt.Errorf("snapshot: %v %s %v", m.Type, m.Payload, err)
	}
	c := &client{ws: ws, latencies: make([]time.Duration, 0, marks[len(marks)-1]), marks: map[int]chan struct{}{}}
	for _, m := range marks {
		c.marks[m] = make(chan struct{})
	}
	go c.read(ctx, marks[len(marks)-1])
	return c, nil
}

// read records the latency of each event from its change.at, found by a
// substring search rather than a full decode so the client's own cost stays
// small.
func (c *client) read(ctx context.Context, events int) {
	got := 0
	defer func() {
		for count, ch := range c.marks {
			if count > got {
				close(ch) // nothing more will arrive
			}
		}
	}()
	// One buffer reused for every frame (Conn.Read would allocate and grow
	// a new one per frame through io.ReadAll), so the clients, which share
	// the CPU with the server, spend as little as possible per frame.
	var buf bytes.Buffer
	for {
		buf.Reset()
		_, r, err := c.ws.Conn.Reader(ctx)
		if err == nil {
			_, err = buf.ReadFrom(r)
		}
		received := time.Now()
		if err != nil {
			c.fail(err)
			return
		}
		b := buf.Bytes()
		if bytes.Contains(b, []byte(`"type":"ping"`)) {
			if err := c.ws.Send(ctx, "pong", "", nil); err != nil {
				c.fail(err)
				return
			}
			continue
		}
		at, ok := sentAt(b)
		if !ok {
			c.fail(fmt.Errorf("unexpected message %.200s", b))
			return
		}
		c.mu.Lock()
		c.latencies = append(c.latencies, received.Sub(at))
		c.mu.Unlock()
		got++
		if ch := c.marks[got]; ch != nil {
			close(ch)
		}
		if got == events {
			return
		}
	}
}

func (c *client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !errors.Is(err, context.Canceled) {
		c.err = err
	}
}

func sentAt(msg []byte) (time.Time, bool) {
	_, rest, ok := bytes.Cut(msg, []byte(`"at":"`))
	if !ok {
		return time.Time{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	return t, err == nil
}

// waitDelivered waits until every client has count events or stopped
// reading (at most limit), and returns when that was.
func waitDelivered(clients []*client, count int, limit time.Duration) time.Time {
	deadline := time.After(limit)
	for _, c := range clients {
		select {
		case <-c.waitFor(count):
		case <-deadline:
			return time.Now()
		}
	}
	return time.Now()
}

// redisFloor publishes events with go-redis to one go-redis subscriber and
// returns the latencies.
func redisFloor(ctx context.Context, url string, events int, interval time.Duration) ([]time.Duration, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	pub, sub := redis.NewClient(opts), redis.NewClient(opts)
	defer pub.Close()
	defer sub.Close()
	channel := fmt.Sprintf("wagraph-bench-floor-%d", time.Now().UnixNano())
	ps := sub.Subscribe(ctx, channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		return nil, err
	}
	var got atomic.Int64
	lat := make([]time.Duration, 0, events)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ps.Channel() {
			var sent int64
			if _, err := fmt.Sscan(m.Payload, &sent); err == nil {
				lat = append(lat, time.Since(time.Unix(0, sent)))
			}
			if got.Add(1) == int64(events) {
				return
			}
		}
	}()
	start := time.Now()
	for i := range events {
		if err := pub.Publish(ctx, channel, fmt.Sprint(time.Now().UnixNano())).Err(); err != nil {
			return nil, err
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * interval)))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("only %d of %d messages arrived", got.Load(), events)
	}
	return lat, nil
}

func pctDur(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func pct(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "-"
	}
	return pctDur(d, p).Round(10 * time.Microsecond).String()
}
