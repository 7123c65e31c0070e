package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

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
// as wagraph's. It returns the publish→receive latencies.
func websocketFloor(ctx context.Context, redisURL string, n, events int, interval time.Duration) ([]time.Duration, error) {
	ch, err := openFloorChannel(ctx, redisURL, "wsfloor")
	if err != nil {
		return nil, err
	}
	defer ch.close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &fanoutServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	go func() {
		for m := range ch.ps.Channel() {
			srv.broadcast([]byte(m.Payload))
		}
	}()

	url := "ws://" + ln.Addr().String()
	clients := make([]*client, n)
	for i := range clients {
		conn, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		c := &client{counts: [2]int{events, events}, latencies: make([]time.Duration, 0, events)}
		c.ws = &apptest.WS{Conn: conn}
		for k := range c.marks {
			c.marks[k] = make(chan struct{})
		}
		go c.read(ctx)
		clients[i] = c
	}
	srv.waitFor(n)

	start := time.Now()
	for i := range events {
		msg := fmt.Sprintf(frame, time.Now().Format(time.RFC3339Nano))
		if err := ch.publish(ctx, msg); err != nil {
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
	if len(lat) != n*events {
		return nil, fmt.Errorf("websocket floor: %d of %d frames arrived", len(lat), n*events)
	}
	return lat, nil
}

// fanoutServer writes every broadcast frame to each connected websocket.
type fanoutServer struct {
	mu    sync.Mutex
	conns []chan []byte
	ready *sync.Cond
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
	if s.ready != nil {
		s.ready.Broadcast()
	}
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

// waitFor returns once n websockets are connected.
func (s *fanoutServer) waitFor(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = sync.NewCond(&s.mu)
	}
	for len(s.conns) < n {
		s.ready.Wait()
	}
}
