// Command subscribers measures how fast account status events reach many
// GraphQL websocket subscribers: N clients subscribe to accountStatusChanged
// on one wagraph instance or spread over two instances sharing Redis, events
// are published on the first instance's bus with their send time, as the
// account service publishes them, and each client records when it got them.
// In the same run it measures the raw Redis PUBLISH→SUBSCRIBE latency
// (go-redis publisher, one subscriber) as the floor to compare with.
//
// Subscribers follow what the admin app's views follow: -list of them the
// account list (every account), the others one account page each, spread
// round robin over -accounts accounts. Events go to the accounts round
// robin, so each event reaches its account's followers and every list
// subscriber.
//
//	go run ./bench/subscribers -n 5000 -accounts 5000 -list 20 -instances 2 -events 2000 -rate 200
//	go run ./bench/subscribers -n 1000 -list -1 -events 40 -rate 2 -burst 32  # everyone follows every account
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
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/pubsub"
)

// query is what the admin app's account list (accountId null) and account
// page ask for.
const query = `subscription($id: ID) { accountStatusChanged(accountId: $id) { accountId version snapshot change { to at reason { code } } account { id name status phoneNumber } } }`

func main() {
	if config := os.Getenv(floorServerEnv); config != "" {
		os.Exit(floorServerMain(config))
	}
	os.Exit(command(os.Args[1:], os.Stdout, os.Stderr))
}

// settings are the benchmark's flags.
type settings struct {
	n, instances, events, burst int
	accounts, list              int // list < 0: every subscriber follows every account
	rate                        float64
	inProcess                   bool   // run the instances in this process
	bin                         string // the wagraph binary to run; built when empty
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
	fs.IntVar(&s.accounts, "accounts", 1, "accounts the events are spread over, round robin")
	fs.IntVar(&s.list, "list", -1, "subscribers following every account (the account list); the others follow one account each (-1: all of them)")
	fs.IntVar(&s.events, "events", 100, "events to publish at -rate, for latency")
	fs.Float64Var(&s.rate, "rate", 20, "events published per second")
	fs.IntVar(&s.burst, "burst", 32, "events to publish back to back afterwards, for throughput (0: none)")
	fs.StringVar(&s.redisURL, "redis", cmp.Or(os.Getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"), "Redis URL")
	fs.BoolVar(&s.inProcess, "inprocess", false, "run the instances inside this process instead of as wagraph server processes (needed for -cpuprofile and -trace)")
	fs.StringVar(&s.bin, "bin", "", "the wagraph binary to run the instances with (default: go build it from this module)")
	fs.StringVar(&s.cpuProfile, "cpuprofile", "", "write a CPU profile of the publishing phases to this file (with -inprocess)")
	fs.StringVar(&s.trace, "trace", "", "write an execution trace of the publishing phases to this file (with -inprocess)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if s.list < 0 || s.list > s.n {
		s.list = s.n
	}
	if s.instances < 1 || s.instances > 2 || s.n < 1 || s.accounts < 1 || s.events < 1 || s.rate <= 0 || s.burst < 0 {
		fmt.Fprintln(stderr, "subscribers: need -n ≥ 1, -instances 1 or 2, -accounts ≥ 1, -events ≥ 1, -rate > 0, -burst ≥ 0")
		return 2
	}
	if (s.cpuProfile != "" || s.trace != "") && !s.inProcess {
		fmt.Fprintln(stderr, "subscribers: -cpuprofile and -trace profile the servers, so they need -inprocess")
		return 2
	}
	if err := run(stdout, s); err != nil {
		fmt.Fprintln(stderr, "subscribers:", err)
		return 1
	}
	return 0
}

func run(w io.Writer, s settings) error {
	if err := raiseFileLimit(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interval := time.Duration(float64(time.Second) / s.rate)

	floor, err := redisFloor(ctx, s.redisURL, s.events, interval)
	if err != nil {
		return fmt.Errorf("redis floor: %w", err)
	}
	// The list subscribers get every event: what would the plainest
	// websocket fan-out to that many take here?
	var wsFloor []time.Duration
	if s.list > 0 {
		if wsFloor, err = websocketFloor(ctx, s, s.list, interval); err != nil {
			return fmt.Errorf("websocket floor: %w", err)
		}
	}

	dir, err := os.MkdirTemp("", "wagraph-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	startCluster := startProcesses
	if s.inProcess {
		startCluster = startInProcess
	}
	c, err := startCluster(ctx, s, dir)
	defer c.close()
	if err != nil {
		return err
	}
	accounts := c.accounts

	p := plan{settings: s}
	start := time.Now()
	clients, err := connect(ctx, c.urls, accounts, p, c.token)
	if err != nil {
		return err
	}
	where := "wagraph server processes"
	if s.inProcess {
		where = "instances inside the benchmark's process"
	}
	fmt.Fprintf(w, "wagraph subscribers benchmark: %d subscribers on %d %s: %d follow every account, %d follow one of %d accounts; %d events at %.0f/s, then a burst of %d (GOMAXPROCS %d)\n",
		s.n, s.instances, where, s.list, s.n-s.list, s.accounts, s.events, s.rate, s.burst, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "  connected and subscribed in %v\n", time.Since(start).Round(time.Millisecond))
	stop, err := startProfiles(s)
	if err != nil {
		return err
	}
	defer stop()

	// Paced: the latency of each event on its own.
	pub := publisher{bus: c.bus, accounts: accounts, versions: make([]int64, len(accounts))}
	publishStart := time.Now()
	for i := range s.events {
		if err := pub.publish(ctx, i); err != nil {
			return err
		}
		time.Sleep(time.Until(publishStart.Add(time.Duration(i+1) * interval)))
	}
	lastReceive := waitDelivered(clients, 0, 30*time.Second)
	lat := collect(clients, p, 0, s.events)
	window := lastReceive.Sub(publishStart).Seconds()
	fmt.Fprintf(w, "  paced: delivered %d of %d (%d missing, %d subscriptions ended early), %.0f deliveries/s over %.2fs\n",
		len(lat.all), lat.want, lat.want-len(lat.all), lat.failed, float64(len(lat.all))/window, window)
	fmt.Fprintf(w, "  publish→receive  %s\n", summary(lat.all))
	if s.list > 0 && s.list < s.n {
		fmt.Fprintf(w, "    account list   %s\n", summary(lat.list))
		fmt.Fprintf(w, "    account pages  %s\n", summary(lat.pages))
	}
	fmt.Fprintf(w, "  redis floor      %s  (go-redis PUBLISH → 1 subscriber, same rate)\n", summary(floor))
	if wsFloor != nil {
		fmt.Fprintf(w, "  websocket floor  %s  (Redis → the same frame written to %d plain websockets, no GraphQL, same rate)\n", summary(wsFloor), s.list)
	}
	budget := 2*pctDur(floor, 99) + 5*time.Millisecond
	verdict := "within"
	if pctDur(lat.all, 99) > budget {
		verdict = "NOT within"
	}
	fmt.Fprintf(w, "  p99 is %s the goal of 2×floor p99 + 5ms = %s\n", verdict, budget.Round(10*time.Microsecond))
	if len(c.bases) > 0 {
		fmt.Fprintf(w, "  server memory: %s\n", c.memory(ctx))
	}

	// Burst: as fast as the bus takes them, for throughput. A burst longer
	// than PUBSUB_BUFFER (64) can cut list subscribers off, by design.
	if s.burst == 0 {
		return nil
	}
	burstStart := time.Now()
	for i := range s.burst {
		if err := pub.publish(ctx, s.events+i); err != nil {
			return err
		}
	}
	lastReceive = waitDelivered(clients, 1, 60*time.Second)
	blat := collect(clients, p, s.events, s.events+s.burst)
	took := lastReceive.Sub(burstStart).Seconds()
	fmt.Fprintf(w, "  burst: delivered %d of %d (%d missing, %d subscriptions ended early) in %.3fs: %.0f events/s, %.0f deliveries/s; p99 %s\n",
		len(blat.all), blat.want, blat.want-len(blat.all), blat.failed, took, float64(s.burst)/took, float64(len(blat.all))/took, pct(blat.all, 99))
	return nil
}

// startProfiles starts the profiles asked for; stop ends them.
func startProfiles(s settings) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	for _, p := range []struct {
		path  string
		start func(io.Writer) error
		stop  func()
	}{{s.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile}, {s.trace, trace.Start, trace.Stop}} {
		if p.path == "" {
			continue
		}
		f, err := os.Create(p.path)
		if err != nil {
			return stop, err
		}
		stops = append(stops, func() { f.Close() })
		if err := p.start(f); err != nil {
			return stop, err
		}
		stops = append(stops, p.stop)
	}
	return stop, nil
}

// plan says who follows what and so which events each subscriber gets.
// Event i goes to account i % accounts.
type plan struct{ settings }

// follows is the index of the account subscriber i follows, or -1 when it
// follows every account.
func (p plan) follows(i int) int {
	if i < p.list {
		return -1
	}
	return (i - p.list) % p.accounts
}

// received is how many of the events [0, upto) a follower of acct gets.
func (p plan) received(acct, upto int) int {
	if acct < 0 {
		return upto
	}
	n := upto / p.accounts
	if acct < upto%p.accounts {
		n++
	}
	return n
}

// publisher publishes status events as the account service does (on the
// account's topic and on the all-accounts topic), with the send time as the
// change's time and increasing versions.
type publisher struct {
	bus      pubsub.Bus
	accounts []*account.Account
	versions []int64
}

func (p *publisher) publish(ctx context.Context, event int) error {
	i := event % len(p.accounts)
	a := p.accounts[i]
	p.versions[i]++
	ev := account.StatusEvent{
		StatusChange: account.StatusChange{
			AccountID: a.ID, Version: a.Version + p.versions[i], From: account.StatusActive, To: account.StatusActive,
			Reason: account.Reason{Code: account.ReasonConnected, Message: "benchmark"}, At: time.Now(),
		},
		Account: a,
	}
	for _, topic := range []pubsub.Topic[account.StatusEvent]{account.StatusTopic(a.ID), account.AllStatusTopic} {
		if err := pubsub.Publish(ctx, p.bus, topic, ev); err != nil {
			return err
		}
	}
	return nil
}

// latencies are the publish→receive times of one phase.
type latencies struct {
	all, list, pages []time.Duration
	want, failed     int // deliveries expected; subscriptions that ended early
}

// collect gathers the latencies of events [from, to) of every client.
func collect(clients []*client, p plan, from, to int) latencies {
	var l latencies
	for _, c := range clients {
		lo, hi := p.received(c.follows, from), p.received(c.follows, to)
		l.want += hi - lo
		c.mu.Lock()
		got := c.latencies[min(lo, len(c.latencies)):min(hi, len(c.latencies))]
		l.all = append(l.all, got...)
		if c.follows < 0 {
			l.list = append(l.list, got...)
		} else {
			l.pages = append(l.pages, got...)
		}
		if c.err != nil {
			l.failed++
		}
		c.mu.Unlock()
	}
	return l
}

// client is one subscriber and what it received.
type client struct {
	ws      *apptest.WS
	follows int // account index, or -1 for every account
	// marks[k] is closed once the client has the events of phase k (paced,
	// then burst), or stopped reading.
	marks  [2]chan struct{}
	counts [2]int

	mu        sync.Mutex
	latencies []time.Duration
	err       error
}

// connect opens the plan's subscribers, round robin over the instances, and
// returns once each has received its snapshot.
func connect(ctx context.Context, urls []string, accounts []*account.Account, p plan, token string) ([]*client, error) {
	clients := make([]*client, p.n)
	errs := make(chan error, p.n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range p.n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := &client{follows: p.follows(i), counts: [2]int{p.received(p.follows(i), p.events), p.received(p.follows(i), p.events+p.burst)}}
			var id *string
			snapshot := min(len(accounts), account.StatusSnapshotLimit)
			if c.follows >= 0 {
				id, snapshot = &accounts[c.follows].ID, 1
			}
			if err := c.subscribe(ctx, urls[i%len(urls)], token, id, snapshot); err != nil {
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

// subscribe connects, subscribes to accountId (every account when nil),
// reads the snapshot's events and starts reading the deltas.
func (c *client) subscribe(ctx context.Context, url, token string, accountID *string, snapshot int) error {
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dialCtx, url, &websocket.DialOptions{Subprotocols: []string{apptest.TransportWS}})
	if err != nil {
		return err
	}
	conn.SetReadLimit(1 << 20)
	c.ws = &apptest.WS{Conn: conn}
	if err := c.ws.Send(dialCtx, "connection_init", "", map[string]any{"Authorization": "Bearer " + token}); err != nil {
		return err
	}
	if m, err := c.ws.ReadSkipping(dialCtx, "ping"); err != nil || m.Type != "connection_ack" {
		return fmt.Errorf("connection_init: %v %v", m.Type, err)
	}
	sub := map[string]any{"query": query, "variables": map[string]any{"id": accountID}}
	if err := c.ws.Send(dialCtx, "subscribe", "1", sub); err != nil {
		return err
	}
	for range snapshot {
		if m, err := c.ws.ReadSkipping(dialCtx, "ping"); err != nil || m.Type != "next" || !bytes.Contains(m.Payload, []byte(`"snapshot":true`)) {
			return fmt.Errorf("snapshot: %v %s %v", m.Type, m.Payload, err)
		}
	}
	c.latencies = make([]time.Duration, 0, c.counts[1])
	for k := range c.marks {
		c.marks[k] = make(chan struct{})
	}
	go c.read(ctx)
	return nil
}

// read records the latency of each event from its change.at until ctx
// ends, answering pings. It finds change.at by a substring search rather
// than a full decode so the client's own cost stays small.
func (c *client) read(ctx context.Context) {
	got := 0
	mark := func() {
		for k, count := range c.counts {
			if got == count {
				close(c.marks[k])
			}
		}
	}
	mark() // phases without events for this client
	defer func() {
		for k, count := range c.counts {
			if got < count {
				close(c.marks[k]) // nothing more will arrive
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
		mark()
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

// waitDelivered waits until every client has the events of phase (0 paced,
// 1 burst) or stopped reading (at most limit), and returns when that was.
func waitDelivered(clients []*client, phase int, limit time.Duration) time.Time {
	deadline := time.After(limit)
	for _, c := range clients {
		select {
		case <-c.marks[phase]:
		case <-deadline:
			return time.Now()
		}
	}
	return time.Now()
}

// redisFloor publishes events with go-redis to one go-redis subscriber and
// returns the latencies.
func redisFloor(ctx context.Context, url string, events int, interval time.Duration) ([]time.Duration, error) {
	ch, err := openFloorChannel(ctx, url, "floor")
	if err != nil {
		return nil, err
	}
	defer ch.close()
	var got atomic.Int64
	lat := make([]time.Duration, 0, events)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch.ps.Channel() {
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
		if err := ch.publish(ctx, fmt.Sprint(time.Now().UnixNano())); err != nil {
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

// floorChannel is a go-redis publisher and a go-redis subscription,
// confirmed, to a fresh channel: the floors' Redis side.
type floorChannel struct {
	pub, sub *redis.Client
	ps       *redis.PubSub
	name     string
}

func openFloorChannel(ctx context.Context, url, kind string) (*floorChannel, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	ch := &floorChannel{pub: redis.NewClient(opts), sub: redis.NewClient(opts),
		name: fmt.Sprintf("wagraph-bench-%s-%d", kind, time.Now().UnixNano())}
	ch.ps = ch.sub.Subscribe(ctx, ch.name)
	if _, err := ch.ps.Receive(ctx); err != nil { // the subscription confirmation
		ch.close()
		return nil, err
	}
	return ch, nil
}

func (ch *floorChannel) publish(ctx context.Context, msg string) error {
	return ch.pub.Publish(ctx, ch.name, msg).Err()
}

func (ch *floorChannel) close() {
	ch.ps.Close()
	ch.sub.Close()
	ch.pub.Close()
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

// summary formats the percentiles of d.
func summary(d []time.Duration) string {
	return fmt.Sprintf("p50 %8s  p90 %8s  p99 %8s  max %8s", pct(d, 50), pct(d, 90), pct(d, 99), pct(d, 100))
}
