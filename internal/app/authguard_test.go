package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// TestWrongTokensAreSlowedDownPerClient drives the real server: one client
// (named by X-Forwarded-For, as set by trusted proxies)
// sending wrong tokens gets RATE_LIMITED with retryAfterSeconds after the
// free failures, over HTTP and in websocket connection_init (close 4429),
// while another client's valid token keeps working.
func TestWrongTokensAreSlowedDownPerClient(t *testing.T) {
	// apptest's client passes through an in-process reverse proxy, which
	// appends its own peer (192.0.2.1) to X-Forwarded-For before the server
	// sees the request from 127.0.0.1: two proxy hops to trust.
	s := apptest.Start(t, apptest.Env{"TRUSTED_PROXIES": "127.0.0.1,::1,192.0.2.1", "AUTH_FREE_FAILURES": "3"})
	good := s.Token(t, auth.Viewer)
	wrong := "wag_" + strings.Split(good, "_")[1] + "_" + strings.Repeat("0", 64)
	from := func(ip string) client.Option { return client.AddHeader("X-Forwarded-For", ip) }

	attacker := s.Client(apptest.Bearer(wrong), from("203.0.113.7"))
	// The first 4 (3 free, and the one that starts the wait) are checked;
	// after that only an attempt after a wait has passed is (1s, then 2s,
	// 4s, ...: at most 3 in a slow test run).
	checked := 0
	for i := range 50 {
		e := apptest.Post(t, attacker, `{ viewer { role } }`).Only(t)
		switch e.Code() {
		case "RATE_LIMITED":
			if i < 4 {
				t.Fatalf("attempt %d was rate limited within the free failures", i+1)
			}
			if secs, _ := e.Extensions["retryAfterSeconds"].(float64); secs < 1 || e.Suggestion() == "" {
				t.Fatalf("RATE_LIMITED without retryAfterSeconds or suggestion: %+v", e)
			}
		case "UNAUTHENTICATED":
			checked++
		default:
			t.Fatalf("attempt %d: %+v", i+1, e)
		}
	}
	if checked < 4 || checked > 4+3 {
		t.Fatalf("%d of 50 wrong tokens were checked, want 4 (a few more only on a very slow run)", checked)
	}
	// Another client is not affected, nor is the public health query.
	other := s.Client(apptest.Bearer(good), from("198.51.100.8"))
	if data := apptest.Post(t, other, `{ viewer { role } }`).NoErrors(t); apptest.Path(data, "viewer", "role") != "VIEWER" {
		t.Fatalf("another client: %v", data)
	}
	apptest.Post(t, s.Client(from("203.0.113.7")), `{ health { status } }`).NoErrors(t)

	// Websocket connection_init from the waiting client is refused with 4429.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := s.DialWS(ctx, t, apptest.TransportWS, http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Send(ctx, "connection_init", "", map[string]any{"Authorization": "Bearer " + good}); err != nil {
		t.Fatal(err)
	}
	code, reason, _ := ws.ReadUntilClosed(ctx)
	if code != websocket.StatusCode(4429) || !strings.Contains(reason, "RATE_LIMITED") {
		t.Fatalf("connection_init from a waiting client closed with %d %q, want 4429 RATE_LIMITED", code, reason)
	}
	logs := s.Logs.String()
	if strings.Contains(logs, strings.Repeat("0", 64)) {
		t.Fatal("the log contains the wrong secret")
	}
	if !strings.Contains(logs, "authentication failed") || !strings.Contains(logs, "203.0.113.7") {
		t.Fatal("the log does not record the failures with the client address")
	}
}
