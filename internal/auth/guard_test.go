package auth

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func guardAt(c *clock, opts GuardOptions) *Guard {
	g := NewGuard(opts)
	g.now = c.now
	return g
}

// attempt is one failed attempt by client: the wait that refused it, or
// the failures in a row and the backoff it started.
func attempt(g *Guard, client string) (wait time.Duration, failures int, backoff time.Duration) {
	wait, counted := g.Begin(client)
	if wait > 0 {
		return wait, 0, 0
	}
	failures, backoff = g.Failed(client, counted)
	return 0, failures, backoff
}

// blocked is how long client must wait, without counting an attempt.
func blocked(g *Guard, client string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el, ok := g.clients[client]; ok {
		return max(el.Value.(*record).until.Sub(g.now()), 0)
	}
	return 0
}

func TestGuardBacksOffPerClient(t *testing.T) {
	c := newClock()
	g := guardAt(c, GuardOptions{FreeFailures: 3, MaxDelay: time.Minute})
	for i := 1; i <= 3; i++ {
		if wait, n, backoff := attempt(g, "10.0.0.1"); wait != 0 || n != i || backoff != 0 {
			t.Fatalf("free failure %d: wait %s, count %d, backoff %s", i, wait, n, backoff)
		}
	}
	if blocked(g, "10.0.0.1") != 0 {
		t.Fatal("blocked within the free failures")
	}
	// Each further failure doubles the wait, up to MaxDelay; attempts
	// during the wait are refused and not counted.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if _, _, backoff := attempt(g, "10.0.0.1"); backoff != want {
			t.Fatalf("backoff %s, want %s", backoff, want)
		}
		if wait, _, _ := attempt(g, "10.0.0.1"); wait != want {
			t.Fatalf("an attempt during the wait: wait %s, want %s", wait, want)
		}
		if blocked(g, "10.0.0.2") != 0 {
			t.Fatal("another client is blocked")
		}
		c.advance(want)
		if blocked(g, "10.0.0.1") != 0 {
			t.Fatalf("still blocked after waiting %s", want)
		}
	}
	// A success clears the record.
	if wait, _ := g.Begin("10.0.0.1"); wait != 0 {
		t.Fatal("refused after the wait")
	}
	g.Succeeded("10.0.0.1")
	if _, n, _ := attempt(g, "10.0.0.1"); n != 1 {
		t.Fatalf("after a success: count %d", n)
	}
	// So does a long quiet time.
	for range 5 {
		attempt(g, "10.0.0.3")
	}
	c.advance(2*time.Minute + time.Second)
	if wait, n, backoff := attempt(g, "10.0.0.3"); wait != 0 || n != 1 || backoff != 0 {
		t.Fatalf("after a quiet time: wait %s, count %d, backoff %s", wait, n, backoff)
	}
	// An attempt that proved nothing (database down) is taken back.
	for range 3 {
		attempt(g, "10.0.0.5")
	}
	_, counted := g.Begin("10.0.0.5")
	g.Refund("10.0.0.5", counted)
	if blocked(g, "10.0.0.5") != 0 {
		t.Fatal("an attempt that proved nothing counted")
	}
	// A huge number of failures neither overflows nor exceeds the cap.
	for range 200 {
		attempt(g, "10.0.0.4")
		c.advance(time.Minute)
	}
	if _, _, backoff := attempt(g, "10.0.0.4"); backoff != time.Minute {
		t.Fatalf("after 200 failures backoff = %s, want the cap", backoff)
	}
}

// TestGuardCountsConcurrentGuesses: a client that has failed cannot get
// more attempts checked by sending them at once, while a client without
// failures is never held up however many requests it has in flight.
func TestGuardCountsConcurrentGuesses(t *testing.T) {
	g := guardAt(newClock(), GuardOptions{FreeFailures: 5})
	attempt(g, "attacker")
	admitted := 0
	for range 100 { // all in flight together: none has finished yet
		if wait, counted := g.Begin("attacker"); wait == 0 {
			admitted++
			if !counted {
				t.Fatal("an attempt of a failing client was not counted")
			}
		}
	}
	if admitted != 5 {
		t.Fatalf("%d concurrent attempts admitted after one failure, want 5", admitted)
	}
	for range 100 {
		if wait, counted := g.Begin("busy-app"); wait != 0 || counted {
			t.Fatal("a client without failures was held up")
		}
	}
}

func TestGuardMemoryIsBounded(t *testing.T) {
	c := newClock()
	g := guardAt(c, GuardOptions{FreeFailures: 1, MaxClients: 100})
	for range 3 {
		attempt(g, "victim-of-eviction")
	}
	for i := range 10_000 {
		attempt(g, "10.1."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256))
		c.advance(time.Millisecond)
	}
	if n := g.Tracked(); n != 100 {
		t.Fatalf("tracking %d clients, want at most 100", n)
	}
	// The most recent failures are the ones kept.
	if _, n, _ := attempt(g, "10.1.39.15"); n != 2 {
		t.Errorf("the last client to fail was forgotten (count %d)", n)
	}
	if _, n, _ := attempt(g, "victim-of-eviction"); n != 1 {
		t.Errorf("the oldest client was kept (count %d)", n)
	}
}

func TestClientAddresses(t *testing.T) {
	none, _ := ParseTrustedProxies(nil)
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.168.1.7 ", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		c      ClientAddresses
		remote string
		xff    []string
		want   string
	}{
		{"direct", none, "203.0.113.5:4000", nil, "203.0.113.5"},
		{"forwarded header ignored without trusted proxies", none, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"forwarded header ignored from an untrusted peer", proxies, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"behind a trusted proxy", proxies, "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed entries left of the real client", proxies, "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", proxies, "192.168.1.7:4000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", proxies, "10.1.2.3:4000", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"garbage stops the walk", proxies, "10.1.2.3:4000", []string{"198.51.100.1, junk, 10.2.2.2"}, "10.2.2.2"},
		{"proxy without header", proxies, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"IPv6 by /64", none, "[2001:db8:1:2:3:4:5:6]:4000", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", none, "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
		{"not an IP", none, "pipe", nil, "pipe"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.c.Of(r); got != tt.want {
				t.Errorf("Of = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad network was accepted")
	}
}

// TestBruteForceIsSlowedDown: 300 wrong secrets in a row from one address
// used to be checked one by one at full speed. Now, after the free failures,
// that address gets RATE_LIMITED with a retry time, over HTTP and in
// websocket connection_init, while another address's valid token works; the
// log names the address and the token id but never the secret.
func TestBruteForceIsSlowedDown(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	s := NewService(db.DB, false)
	tok, secret, err := s.Create(ctx, "ops", Operator)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	// The guard's clock stands still: no wait ends during the test.
	s.UseGuard(guardAt(newClock(), GuardOptions{Log: zerolog.New(&logs)}), ClientAddresses{})
	wrongSecret := strings.Repeat("0", 64)
	wrong := "wag_" + tok.ID + "_" + wrongSecret

	request := func(remote, header string) probe {
		var pr probe
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", header)
		s.Middleware(pr.handler()).ServeHTTP(httptest.NewRecorder(), req)
		return pr
	}
	limited := 0
	for i := range 300 {
		pr := request("203.0.113.9:5000", "Bearer "+wrong)
		if pr.ok {
			t.Fatal("a wrong secret authenticated")
		}
		switch apperr.CodeOf(pr.err) {
		case apperr.RateLimited:
			limited++
			if ae, _ := apperr.As(pr.err); ae.RetryAfter <= 0 || !ae.Retryable {
				t.Fatalf("RATE_LIMITED without a retry time: %+v", ae)
			}
		case apperr.Unauthenticated:
			if i >= DefaultFreeFailures+1 {
				t.Fatalf("attempt %d was checked; the client should be waiting", i+1)
			}
		default:
			t.Fatalf("attempt %d: %v", i+1, pr.err)
		}
	}
	if limited < 300-DefaultFreeFailures-1 {
		t.Fatalf("%d of 300 attempts were rate limited", limited)
	}
	// The right token from the blocked address waits too: guessing it is
	// exactly what the wait is against.
	if pr := request("203.0.113.9:5000", "Bearer "+secret); pr.ok || apperr.CodeOf(pr.err) != apperr.RateLimited {
		t.Fatalf("blocked address with the right token: %+v", pr)
	}
	// Another address is not affected.
	if pr := request("198.51.100.20:5000", "Bearer "+secret); !pr.ok || pr.p.TokenID != tok.ID {
		t.Fatalf("another address with the right token: %+v", pr)
	}
	// Nor is a request without a token (health), or an empty "Bearer ".
	if pr := request("203.0.113.9:5000", "Bearer "); pr.err == nil || apperr.CodeOf(pr.err) != apperr.Unauthenticated {
		t.Fatalf("empty bearer from the blocked address: %v", pr.err)
	}

	// Websocket connection_init counts and waits the same way.
	wsCtx := WithClient(ctx, "192.0.2.44")
	for i := range 20 {
		_, err := s.AuthenticateInit(wsCtx, map[string]any{"authToken": wrong})
		want := apperr.Unauthenticated
		if i > DefaultFreeFailures {
			want = apperr.RateLimited
		}
		if apperr.CodeOf(err) != want {
			t.Fatalf("connection_init %d: %v, want %s", i+1, err, want)
		}
	}
	if _, err := s.AuthenticateInit(WithClient(ctx, "192.0.2.45"), map[string]any{"authToken": secret}); err != nil {
		t.Fatalf("connection_init from another address: %v", err)
	}

	out := logs.String()
	if strings.Contains(out, wrongSecret) || strings.Contains(out, strings.Split(secret, "_")[2]) {
		t.Fatalf("the log contains a secret:\n%s", out)
	}
	if !strings.Contains(out, `"client":"203.0.113.9"`) || !strings.Contains(out, `"tokenId":"`+tok.ID+`"`) || !strings.Contains(out, "authentication failed") {
		t.Fatalf("the log does not say who failed:\n%s", out)
	}
}
