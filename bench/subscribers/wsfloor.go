package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"wagraph/internal/apptest"
)

// frame is what wagraph sends for one status event to a list subscriber, so
// that the websocket floor moves frames of the same size.
const frame = `{"id":"1","type":"next","payload":{"data":{"accountStatusChanged":{"accountId":"acc_0123456789abcdef","version":12,"snapshot":false,` +
	`"change":{"to":"ACTIVE","at":"%s","reason":{"code":"CONNECTED"}},"account":{"id":"acc_0123456789abcdef","name":"Bench 0","status":"ACTIVE","phoneNumber":null}}}}}`

// websocketFloor measures the least a websocket fan-out costs on this
// machine: a server with no GraphQL, no per-subscriber work and no
// encoding, that receives each event from one Redis subscription and writes
// the same pre-encoded frame to each of n websockets (one writer goroutine
// per connection, as any Go websocket server has), read by the same clients
// as wagraph's. The server runs as wagraph's instances do: in a process of
// its own, or in this one with -inprocess. It returns the publish→receive
// latencies.
func websocketFloor(ctx context.Context, s settings, n int, interval time.Duration) ([]time.Duration, error) {
	opts, err := redis.ParseURL(s.redisURL)
	if err != nil {
		return nil, err
	}
	pub := redis.NewClient(opts)
	defer pub.Close()
	channel := fmt.Sprintf("wagraph-bench-wsfloor-%d", time.Now().UnixNano())
	serve := floorProcess
	if s.inProcess {
		serve = serveFloor
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url, stop, err := serve(ctx, s.redisURL, channel)
	if err != nil {
		return nil, err
	}
	defer stop()

	clients := make([]*client, n)
	for i := range clients {
		conn, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		c := &client{counts: [2]int{s.events, s.events}, latencies: make([]time.Duration, 0, s.events)}
		c.ws = &apptest.WS{Conn: conn}
		for k := range c.marks {
			c.marks[k] = make(chan struct{})
		}
		go c.read(ctx)
		clients[i] = c
	}
	if err := waitConnected(ctx, url, n); err != nil {
		return nil, err
	}

	start := time.Now()
	for i := range s.events {
		msg := fmt.Sprintf(frame, time.Now().Format(time.RFC3339Nano))
		if err := pub.Publish(ctx, channel, msg).Err(); err != nil {
			return nil, err
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * interval)))
	}
	waitDelivered(clients, 0, 30*time.Second)
	var lat []time.Duration
	for _, c := range clients {
		c.mu.Lock()
		lat = append(lat, c.latencies...)
		c.mu.Unlock()
	}
	if len(lat) != n*s.events {
		return nil, fmt.Errorf("websocket floor: %d of %d frames arrived", len(lat), n*s.events)
	}
	return lat, nil
}

// serveFloor runs the floor's server in this process: every message on the
// Redis channel goes to every websocket at ws://…/, and GET /count says
// how many are connected.
func serveFloor(ctx context.Context, redisURL, channel string) (url string, stop func(), err error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return "", nil, err
	}
	sub := redis.NewClient(opts)
	ps := sub.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		sub.Close()
		return "", nil, err
	}
	srv := &fanoutServer{}
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, srv.count()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sub.Close()
		return "", nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = hs.Serve(ln) }()
	go func() {
		for m := range ps.Channel() {
			srv.broadcast([]byte(m.Payload))
		}
	}()
	return "ws://" + ln.Addr().String(), func() { hs.Close(); ps.Close(); sub.Close() }, nil
}

// floorServerEnv, set in its environment, makes this program the floor's
// server process (floorProcess) instead of the benchmark.
const floorServerEnv = "WAGRAPH_BENCH_FLOOR_SERVER"

// floorProcess runs the floor's server as a process of its own: this
// program again, which prints its URL and serves until its stdin closes.
func floorProcess(ctx context.Context, redisURL, channel string) (url string, stop func(), err error) {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), floorServerEnv+"="+redisURL+" "+channel)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("floor server did not start: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// floorServerMain is the floor's server process: config "REDIS_URL CHANNEL"
// from floorServerEnv.
func floorServerMain(config string) int {
	redisURL, channel, _ := strings.Cut(config, " ")
	url, stop, err := serveFloor(context.Background(), redisURL, channel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 1
	}
	defer stop()
	fmt.Println(url)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	return 0
}

// waitConnected returns once the floor's server has n websockets.
func waitConnected(ctx context.Context, url string, n int) error {
	countURL := "http" + strings.TrimPrefix(url, "ws") + "/count"
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, countURL, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) == fmt.Sprint(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floor server has %s of %d websockets after 30s", body, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fanoutServer writes every broadcast frame to each connected websocket.
type fanoutServer struct {
	mu    sync.Mutex
	conns []chan []byte
}

func (s *fanoutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx := conn.CloseRead(r.Context())
	out := make(chan []byte, 64)
	s.mu.Lock()
	s.conns = append(s.conns, out)
	s.mu.Unlock()
	for {
		select {
		case b := <-out:
			if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (s *fanoutServer) broadcast(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, out := range s.conns {
		select {
		case out <- b:
		default: // a slow reader misses it; the count check reports that
		}
	}
}

func (s *fanoutServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
