package graph_test

// Fuzz target for the websocket transports (graphql-transport-ws and the
// legacy graphql-ws) through the app's real routes over a real socket.
// Whatever a client sends, the server answers or closes the socket within a
// short deadline, and nothing panics. Run it longer with
//
//	go test -run='^$' -fuzz='^FuzzWebsocket$' -fuzztime=10m ./graph

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// tokenPlaceholder in a fuzzed message stands for a VIEWER token, so the
// fuzzer can get past connection_init.
const tokenPlaceholder = "$TOKEN"

// wsAnswerDeadline is how long the server may take to answer or close. The
// fixture's WS_INIT_TIMEOUT is well inside it, so a socket that never
// authenticates must be closed by then; keep-alives come far later, so they
// cannot pass for an answer.
const wsAnswerDeadline = 3 * time.Second

// panicLog collects what net/http logs, which is where a panic in a handler
// goroutine ends up (net/http recovers it and drops the connection).
type panicLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (p *panicLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *panicLog) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.buf.String()
	p.buf.Reset()
	return s
}

func FuzzWebsocket(f *testing.F) {
	s := apptest.Start(f, apptest.Env{
		"SIMULATE":              "true",
		"LOG_LEVEL":             "warn",
		"WS_INIT_TIMEOUT":       "300ms",
		"WS_KEEPALIVE_INTERVAL": "1m",
	})
	token := s.Token(f, auth.Viewer)
	panics := &panicLog{}
	srv := httptest.NewUnstartedServer(s.App.Handler)
	srv.Config.ErrorLog = log.New(panics, "", 0)
	srv.Start()
	f.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"

	const (
		init      = `{"type":"connection_init","payload":{"Authorization":"Bearer $TOKEN"}}`
		subscribe = `{"id":"1","type":"subscribe","payload":{"query":"subscription { accountStatusChanged { accountId version } }"}}`
		start     = `{"id":"1","type":"start","payload":{"query":"subscription { accountStatusChanged { accountId version } }"}}`
	)
	seeds := []struct {
		legacy     bool
		m1, m2, m3 string
	}{
		{false, init, subscribe, `{"id":"1","type":"complete"}`},
		{false, init, `{"id":"q","type":"subscribe","payload":{"query":"{ viewer { role } }"}}`, ""},
		{false, `{"type":"ping"}`, "", ""},
		{false, init, `{"type":"ping","payload":{"x":1}}`, `{"type":"pong"}`},
		{false, "", "", ""},
		// connection_init payloads that are not objects.
		{false, `{"type":"connection_init","payload":null}`, "", ""},
		{false, `{"type":"connection_init"}`, "", ""},
		{false, `{"type":"connection_init","payload":{"Authorization":"Bearer wag_x_y"}}`, "", ""},
		{false, `{"type":"connection_init","payload":{"authToken":5}}`, "", ""},
		// Out of order, duplicated, malformed.
		{false, subscribe, "", ""},
		{false, init, init, ""},
		{false, init, subscribe, subscribe},
		{false, init, `{"id":"1","type":"subscribe"}`, ""},
		{false, init, `{"id":"1","type":"subscribe","payload":{"query":"subscription { accountStatusChanged(accountId: \"a\u0000b\") { version } }"}}`, ""},
		{false, init, `{"id":"","type":"subscribe","payload":{"query":"{ health { status } }"}}`, ""},
		{false, init, `{"id":"1","type":"subscribe","payload":{"query":"{ health { status } }","variables":"x"}}`, ""},
		{false, init, `{"type":"nonsense"}`, ""},
		{false, `{"type":`, "", ""},
		{false, `[]`, "", ""},
		{false, "\xff\xfe", "", ""},
		{false, `{"type":"connection_init","payload":{"Authorization":"Bearer $TOKEN"},"id":99999999999999999999999}`, "", ""},
		// Legacy graphql-ws.
		{true, init, start, `{"id":"1","type":"stop"}`},
		{true, init, `{"type":"connection_terminate"}`, ""},
		{true, start, "", ""},
		{true, init, `{"id":"1","type":"start"}`, ""},
		{true, "", "", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.legacy, sd.m1, sd.m2, sd.m3)
	}
	f.Fuzz(func(t *testing.T, legacy bool, m1, m2, m3 string) {
		proto := apptest.TransportWS
		if legacy {
			proto = apptest.LegacyWS
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*wsAnswerDeadline)
		defer cancel()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		sent := []string{}
		for _, m := range []string{m1, m2, m3} {
			if m == "" {
				continue
			}
			m = strings.ReplaceAll(m, tokenPlaceholder, token)
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				break // the server closed already: an answer
			}
			sent = append(sent, m)
		}
		answered, closed := readAnswer(ctx, c, nil)
		if !answered && !closed {
			t.Fatalf("%s: no answer and no close within %v after %q", proto, wsAnswerDeadline, sent)
		}
		if !closed && !legacy {
			// Still open: the connection must still work. graphql-transport-ws
			// answers a ping with a pong at any time.
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err == nil {
				if answered, closed := readAnswer(ctx, c, func(typ string) bool { return typ == "pong" }); !answered && !closed {
					t.Fatalf("%s: no pong and no close within %v after %q and a ping", proto, wsAnswerDeadline, sent)
				}
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		if p := panics.take(); strings.Contains(p, "panic") {
			t.Fatalf("%s: the server panicked on %q:\n%s", proto, sent, p)
		}
	})
}

// readAnswer reads until a message accepted by want (any message when want
// is nil) or the server's close, for at most wsAnswerDeadline.
func readAnswer(ctx context.Context, c *websocket.Conn, want func(typ string) bool) (answered, closed bool) {
	ctx, cancel := context.WithTimeout(ctx, wsAnswerDeadline)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			// A close frame or a dropped connection both end the socket; a
			// deadline does not.
			return false, !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		}
		if want == nil || want(messageType(b)) {
			return true, false
		}
	}
}

// messageType is the "type" of a protocol message, "" when it has none.
func messageType(b []byte) string {
	var m struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(b, &m)
	return m.Type
}
