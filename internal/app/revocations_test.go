package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
)

const revokeToken = `mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }`

// openLive opens a graphql-transport-ws websocket authenticated with
// secret, with a live subscription running.
func openLive(t *testing.T, ctx context.Context, s *apptest.Server, secret string) *apptest.WS {
	t.Helper()
	ws, _, err := s.DialWS(ctx, t, apptest.TransportWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		typ, id string
		payload any
	}{
		{"connection_init", "", map[string]any{"Authorization": secret}},
		{"subscribe", "live", map[string]any{"query": `subscription { accountStatusChanged { accountId } }`}},
		{"subscribe", "q", map[string]any{"query": `{ viewer { role } }`}},
	} {
		if err := ws.Send(ctx, m.typ, m.id, m.payload); err != nil {
			t.Fatal(err)
		}
	}
	for {
		m, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the viewer query: %v", err)
		}
		if m.Type == "next" && m.ID == "q" {
			return ws
		}
	}
}

// Revoking a token on one instance closes its websockets on every instance
// within a second, with 4401 "token revoked"; an operation sent on them after
// the revocation does not run, even one that reaches the other instance
// before the announcement does.
func TestRevocationClosesWebsocketsOnEveryInstance(t *testing.T) {
	env := apptest.Env{"DATABASE_URL": storetest.URL(t, store.Postgres), "REDIS_URL": testenv.RedisURL(t)}
	a := apptest.Start(t, env)
	b := apptest.Start(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	admin := a.Client(apptest.Bearer(a.Token(t, auth.Admin)))
	tok, secret, err := a.App.Auth.Create(ctx, "doomed", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	onA := openLive(t, ctx, a, secret)
	onB := openLive(t, ctx, b, secret)
	keptOnB := openLive(t, ctx, b, b.Token(t, auth.Viewer))

	apptest.Post(t, admin, revokeToken, client.Var("id", tok.ID)).NoErrors(t)
	revoked := time.Now()
	if err := onB.Send(ctx, "subscribe", "m", map[string]any{"query": `mutation { createApiToken(input: {name: "after-revocation", role: VIEWER}) { token } }`}); err != nil {
		t.Fatal(err)
	}
	for name, ws := range map[string]*apptest.WS{"A": onA, "B": onB} {
		closeCtx, cancel := context.WithDeadline(ctx, revoked.Add(time.Second))
		code, reason, seen := ws.ReadUntilClosed(closeCtx)
		cancel()
		if code != 4401 || reason != "token revoked" {
			t.Errorf("instance %s: closed with %d %q after %v, want 4401 \"token revoked\" within a second", name, code, reason, seen)
		}
		t.Logf("instance %s closed the websocket %v after the revocation", name, time.Since(revoked))
	}
	tokens := apptest.Post(t, admin, `{ apiTokens { name } }`).NoErrors(t)
	for _, tk := range apptest.Path(tokens, "apiTokens").([]any) {
		if apptest.Path(tk, "name") == "after-revocation" {
			t.Error("the mutation sent on instance B after the revocation ran")
		}
	}

	// The revoked token opens nothing any more; another token's websocket
	// on B goes on.
	again, _, err := b.DialWS(ctx, t, apptest.TransportWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Send(ctx, "connection_init", "", map[string]any{"Authorization": secret}); err != nil {
		t.Fatal(err)
	}
	if code, reason, _ := again.ReadUntilClosed(ctx); code != 4401 || !strings.Contains(reason, "revoked") {
		t.Errorf("reconnecting with the revoked token: %d %q", code, reason)
	}
	if err := keptOnB.Send(ctx, "subscribe", "q2", map[string]any{"query": `{ viewer { role } }`}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := keptOnB.Read(ctx)
		if err != nil {
			t.Fatalf("the other token's websocket on B: %v (%d)", err, websocket.CloseStatus(err))
		}
		if m.Type == "next" && m.ID == "q2" {
			break
		}
	}
}

// An operation on an open websocket while the database is down answers
// UNAVAILABLE (retryable), not INTERNAL: the token check before each
// operation is the first thing to need the database.
func TestWebsocketOperationWithDatabaseDown(t *testing.T) {
	pgURL := storetest.URL(t, store.Postgres)
	pg := apptest.NewProxy(t, hostPort(t, pgURL))
	s := apptest.Start(t, apptest.Env{"DATABASE_URL": pg.Rewrite(t, pgURL)})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws := openLive(t, ctx, s, s.Token(t, auth.Operator))
	pg.Cut()
	if err := ws.Send(ctx, "subscribe", "down", map[string]any{"query": `{ accounts(first: 5) { edges { node { id } } } }`}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer: %v", err)
		}
		if m.ID != "down" {
			continue
		}
		raw := m.Payload // an error message's payload is the errors
		if m.Type == "next" {
			var resp struct{ Errors json.RawMessage }
			if err := json.Unmarshal(m.Payload, &resp); err != nil {
				t.Fatal(err)
			}
			raw = resp.Errors
		}
		errs := apptest.Errors(t, raw)
		if len(errs) != 1 || errs[0].Code() != "UNAVAILABLE" || errs[0].Extensions["retryable"] != true {
			t.Fatalf("%s %s, want one retryable UNAVAILABLE error", m.Type, m.Payload)
		}
		return
	}
}

// A revocation made while Redis is down cannot be announced: revokeApiToken
// says so (UNAVAILABLE, retryable), and the other instance closes the
// token's websocket on its own once its bus reconnects, by rechecking the
// tokens of its open websockets.
func TestRevocationDuringARedisOutage(t *testing.T) {
	redis := testenv.StartRedis(t)
	env := apptest.Env{"DATABASE_URL": storetest.URL(t, store.Postgres), "REDIS_URL": redis.URL()}
	a := apptest.Start(t, env)
	b := apptest.Start(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	admin := a.Client(apptest.Bearer(a.Token(t, auth.Admin)))
	tok, secret, err := a.App.Auth.Create(ctx, "doomed", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	onB := openLive(t, ctx, b, secret)

	redis.Kill(t)
	e := apptest.Post(t, admin, revokeToken, client.Var("id", tok.ID)).Only(t)
	if e.Code() != "UNAVAILABLE" || e.Extensions["retryable"] != true || !strings.Contains(e.Message, "revoked") {
		t.Errorf("revokeApiToken with Redis down: %+v, want a retryable UNAVAILABLE saying the token is revoked", e)
	}
	redis.Start(t)
	code, reason, seen := onB.ReadUntilClosed(ctx)
	if code != 4401 || reason != "token revoked" {
		t.Errorf("instance B: closed with %d %q after %v, want 4401 \"token revoked\" once Redis is back", code, reason, seen)
	}
}
