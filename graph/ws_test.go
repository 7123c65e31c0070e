package graph_test

// Websocket transports end to end: graphql-transport-ws and the legacy
// graphql-ws, authenticated in connection_init.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// wsCtx bounds a websocket exchange so a missing message fails the test
// instead of hanging it.
func wsCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustDial(t *testing.T, ctx context.Context, s *apptest.Server, proto string, header http.Header) *apptest.WS {
	t.Helper()
	ws, resp, err := s.DialWS(ctx, t, proto, header)
	if err != nil {
		t.Fatalf("dial %s: %v", proto, err)
	}
	if got := ws.Conn.Subprotocol(); got != proto {
		t.Fatalf("negotiated subprotocol %q, want %q", got, proto)
	}
	_ = resp
	return ws
}

func mustSend(t *testing.T, ctx context.Context, ws *apptest.WS, typ, id string, payload any) {
	t.Helper()
	if err := ws.Send(ctx, typ, id, payload); err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
}

func mustRead(t *testing.T, ctx context.Context, ws *apptest.WS, want string, skip ...string) apptest.Message {
	t.Helper()
	m, err := ws.ReadSkipping(ctx, skip...)
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	if m.Type != want {
		t.Fatalf("got %s %s, want %s", m.Type, m.Payload, want)
	}
	return m
}

func TestTransportWSQuery(t *testing.T) {
	s := apptest.Start(t, nil)
	tok := s.Token(t, auth.Operator)
	tests := []struct {
		name    string
		header  http.Header
		payload map[string]any
	}{
		{"Authorization with Bearer", nil, map[string]any{"Authorization": "Bearer " + tok}},
		{"authToken", nil, map[string]any{"authToken": tok}},
		{"lower-case authorization", nil, map[string]any{"authorization": tok}},
		{"header on the upgrade request", http.Header{"Authorization": {"Bearer " + tok}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := wsCtx(t)
			ws := mustDial(t, ctx, s, apptest.TransportWS, tt.header)
			mustSend(t, ctx, ws, "connection_init", "", tt.payload)
			mustRead(t, ctx, ws, "connection_ack", "ping")
			mustSend(t, ctx, ws, "subscribe", "q1", map[string]any{"query": "{ viewer { role } }"})
			next := mustRead(t, ctx, ws, "next", "ping")
			if next.ID != "q1" || !strings.Contains(string(next.Payload), `"role":"OPERATOR"`) {
				t.Errorf("next = %s %s", next.ID, next.Payload)
			}
			if done := mustRead(t, ctx, ws, "complete", "ping"); done.ID != "q1" {
				t.Errorf("complete for %q", done.ID)
			}
			// The connection stays usable for another operation.
			mustSend(t, ctx, ws, "subscribe", "q2", map[string]any{"query": "{ health { status } }"})
			if next := mustRead(t, ctx, ws, "next", "ping"); next.ID != "q2" || !strings.Contains(string(next.Payload), `"UP"`) {
				t.Errorf("second operation: %s %s", next.ID, next.Payload)
			}
		})
	}
}

func TestTransportWSErrorsAreCoded(t *testing.T) {
	s := apptest.Start(t, nil)
	ctx := wsCtx(t)
	ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": "Bearer " + s.Token(t, auth.Viewer)})
	mustRead(t, ctx, ws, "connection_ack", "ping")
	mustSend(t, ctx, ws, "subscribe", "m", map[string]any{"query": `mutation { createApiToken(input: {name: "x", role: ADMIN}) { token } }`})
	next := mustRead(t, ctx, ws, "next", "ping")
	var resp struct {
		Errors []apptest.GQLError
	}
	if err := json.Unmarshal(next.Payload, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Code() != "FORBIDDEN" || resp.Errors[0].Suggestion() == "" {
		t.Errorf("VIEWER mutation over websocket: %s", next.Payload)
	}
}

func TestWebsocketRefusesBadTokens(t *testing.T) {
	s := apptest.Start(t, nil)
	revoked, revokedSecret, err := s.App.Auth.Create(t.Context(), "old", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Auth.Revoke(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
		for name, payload := range map[string]map[string]any{
			"missing":   nil,
			"malformed": {"Authorization": "Bearer junk"},
			"unknown":   {"authToken": "wag_0123456789ab_00"},
			"revoked":   {"Authorization": revokedSecret},
		} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				ctx := wsCtx(t)
				ws := mustDial(t, ctx, s, proto, nil)
				mustSend(t, ctx, ws, "connection_init", "", payload)
				code, reason, seen := ws.ReadUntilClosed(ctx)
				if code != 4401 || !strings.HasPrefix(reason, "UNAUTHENTICATED: ") {
					t.Errorf("closed with %d %q, want 4401 \"UNAUTHENTICATED: <why>\"", code, reason)
				}
				for _, m := range seen {
					if m.Type == "connection_ack" {
						t.Error("a refused connection was acknowledged")
					}
				}
			})
		}
	}
}

// A client that sends no connection_init in time is closed: with 4408 on
// graphql-transport-ws, which defines it; with a protocol error on the
// legacy protocol, which defines none.
func TestWebsocketInitTimeout(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_INIT_TIMEOUT": "100ms"})
	for proto, want := range map[string]websocket.StatusCode{apptest.TransportWS: 4408, apptest.LegacyWS: websocket.StatusProtocolError} {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, proto, nil)
		start := time.Now()
		code, reason, _ := ws.ReadUntilClosed(ctx)
		if code != want || !strings.Contains(strings.ToLower(reason), "timeout") {
			t.Errorf("%s: closed with %d %q, want %d saying timeout", proto, code, reason, want)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Errorf("%s: closed after %v, want about WS_INIT_TIMEOUT", proto, waited)
		}
	}
}

func TestTransportWSKeepAlive(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_KEEPALIVE_INTERVAL": "50ms"})
	tok := s.Token(t, auth.Viewer)
	t.Run("the server pings", func(t *testing.T) {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
		mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": tok})
		mustRead(t, ctx, ws, "connection_ack")
		for range 3 {
			mustRead(t, ctx, ws, "ping")
			mustSend(t, ctx, ws, "pong", "", nil)
		}
		// Answering pings keeps the connection usable.
		mustSend(t, ctx, ws, "subscribe", "1", map[string]any{"query": "{ viewer { role } }"})
		mustRead(t, ctx, ws, "next", "ping")
	})
	t.Run("a client that stops answering is disconnected", func(t *testing.T) {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
		mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": tok})
		mustRead(t, ctx, ws, "connection_ack")
		code, _, seen := ws.ReadUntilClosed(ctx)
		if len(seen) == 0 || seen[0].Type != "ping" {
			t.Errorf("saw %v before the close, want pings", seen)
		}
		if code == websocket.StatusNormalClosure {
			t.Errorf("closed normally; want the connection dropped for not answering pings")
		}
	})
}

func TestLegacyGraphQLWS(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_KEEPALIVE_INTERVAL": "50ms"})
	ctx := wsCtx(t)
	ws := mustDial(t, ctx, s, apptest.LegacyWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"authToken": s.Token(t, auth.Admin)})
	mustRead(t, ctx, ws, "connection_ack")
	mustRead(t, ctx, ws, "ka")
	mustSend(t, ctx, ws, "start", "1", map[string]any{"query": "{ viewer { role } }"})
	data := mustRead(t, ctx, ws, "data", "ka")
	if data.ID != "1" || !strings.Contains(string(data.Payload), `"role":"ADMIN"`) {
		t.Errorf("data = %s %s", data.ID, data.Payload)
	}
	mustRead(t, ctx, ws, "complete", "ka")
	// Keep-alives keep coming on the legacy protocol.
	mustRead(t, ctx, ws, "ka")
	mustSend(t, ctx, ws, "connection_terminate", "", nil)
	if code, _, _ := ws.ReadUntilClosed(ctx); code != websocket.StatusNormalClosure {
		t.Errorf("connection_terminate closed with %d, want 1000", code)
	}
}

func TestWebsocketMessageSizeLimit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"MAX_REQUEST_BYTES": "512"})
	ctx := wsCtx(t)
	ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": s.Token(t, auth.Viewer)})
	mustRead(t, ctx, ws, "connection_ack")
	mustSend(t, ctx, ws, "subscribe", "big", map[string]any{"query": "{ viewer { role } }" + strings.Repeat(" ", 1024)})
	code, _, seen := ws.ReadUntilClosed(ctx)
	if code != websocket.StatusMessageTooBig {
		t.Errorf("closed with %d after %v, want 1009 (message too big)", code, seen)
	}
}
