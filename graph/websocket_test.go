package graph

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// recordingMetrics records subscription metrics and reports each ended
// subscription on ended.
type recordingMetrics struct {
	mu                           sync.Mutex
	opened, closed               int
	started, finished, delivered map[string]int
	failed                       map[string]int // by "kind code"
	ended                        chan string
}

func newRecordingMetrics() *recordingMetrics {
	return &recordingMetrics{started: map[string]int{}, finished: map[string]int{}, delivered: map[string]int{}, failed: map[string]int{}, ended: make(chan string, 16)}
}

func (m *recordingMetrics) ConnectionOpened() { m.mu.Lock(); m.opened++; m.mu.Unlock() }
func (m *recordingMetrics) ConnectionClosed() { m.mu.Lock(); m.closed++; m.mu.Unlock() }
func (m *recordingMetrics) SubscriptionStarted(k string) {
	m.mu.Lock()
	m.started[k]++
	m.mu.Unlock()
}
func (m *recordingMetrics) SubscriptionEnded(k string) {
	m.mu.Lock()
	m.finished[k]++
	m.mu.Unlock()
	m.ended <- k
}
func (m *recordingMetrics) EventDelivered(k string) { m.mu.Lock(); m.delivered[k]++; m.mu.Unlock() }
func (m *recordingMetrics) SubscriptionFailed(k, code string) {
	m.mu.Lock()
	m.failed[k+" "+code]++
	m.mu.Unlock()
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscriptionServer is gqlgen's test schema behind the subscription
// limiter, so the limiter is tested apart from wagraph's resolvers.
func subscriptionServer(t *testing.T, maxPerConn int, m SubscriptionMetrics) (*testserver.TestServer, string) {
	t.Helper()
	srv := testserver.New()
	srv.AddTransport(transport.Websocket{
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, _ = withConnState(ctx)
			return ctx, nil, nil
		},
	})
	srv.AroundOperations(limitSubscriptions(maxPerConn, m))
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http")
}

func TestSubscriptionLimitPerConnection(t *testing.T) {
	m := newRecordingMetrics()
	srv, url := subscriptionServer(t, 1, m)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(m wsMessage) {
		t.Helper()
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() wsMessage {
		t.Helper()
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	sub := func(id string) {
		send(wsMessage{Type: "subscribe", ID: id, Payload: json.RawMessage(`{"query":"subscription { name }"}`)})
	}

	send(wsMessage{Type: "connection_init"})
	if m := read(); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	sub("a")
	srv.SendNextSubscriptionMessage()
	if got := read(); got.Type != "next" || got.ID != "a" {
		t.Fatalf("first event: %+v", got)
	}

	sub("b") // over the cap of 1
	refused := read()
	if refused.ID != "b" || !strings.Contains(string(refused.Payload), `"code":"SUBSCRIPTION_LIMIT"`) ||
		!strings.Contains(string(refused.Payload), `"suggestion"`) {
		t.Fatalf("second subscription: %s %s %s, want SUBSCRIPTION_LIMIT", refused.Type, refused.ID, refused.Payload)
	}
	if done := read(); done.Type != "complete" || done.ID != "b" {
		t.Fatalf("after the refusal: %+v", done)
	}

	send(wsMessage{Type: "complete", ID: "a"}) // the client stops a
	if kind := <-m.ended; kind != "name" {
		t.Errorf("ended kind %q, want the root field", kind)
	}
	sub("c") // a slot is free again
	srv.SendNextSubscriptionMessage()
	got := read()
	if got.Type == "complete" && got.ID == "a" { // gqlgen confirms the stop
		got = read()
	}
	if got.Type != "next" || got.ID != "c" {
		t.Fatalf("subscription after one ended: %+v", got)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started["name"] != 2 || m.finished["name"] != 1 || m.delivered["name"] != 2 {
		t.Errorf("metrics started %v ended %v delivered %v; want 2 started (the refused one not), 1 ended, 2 events",
			m.started, m.finished, m.delivered)
	}
}

// stuckAuth is a connectionAuth whose token check never finishes (a database
// that hangs), until release is closed.
type stuckAuth struct{ release chan struct{} }

func (a stuckAuth) AuthenticateInit(ctx context.Context, _ map[string]any) (context.Context, error) {
	<-a.release
	return ctx, nil
}
func (stuckAuth) TrackConnection(string, func()) func()     { return func() {} }
func (stuckAuth) CheckActive(context.Context, string) error { return nil }
func (stuckAuth) EndConnections(string) int                 { return 0 }

// A websocket has a hard deadline to authenticate, whatever it sends:
// gqlgen's InitTimeout only bounds the wait for connection_init, not the
// check of its token.
func TestWebsocketAuthDeadlineIsHard(t *testing.T) {
	a := stuckAuth{release: make(chan struct{})}
	t.Cleanup(func() { close(a.release) })
	srv := testserver.New()
	srv.AddTransport(guardedTransport{transport.Websocket{
		Implementation: guardedWebsockets{inner: transport.CoderWebsocketImplementation{}, writeTimeout: time.Second, initTimeout: 100 * time.Millisecond},
		InitFunc:       initConnection(a, noMetrics{}),
		InitTimeout:    100 * time.Millisecond,
	}})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"Authorization":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != closeInitTimeout {
		t.Fatalf("read: %v (close %d), want a 4408 close", err, code)
	}
	t.Logf("closed %v after connection_init", time.Since(start))
}
