package graph_test

// Send limits through the real GraphQL handler: setRateLimits (OPERATOR,
// validated by the limiter's rules) and rateLimitStatus (VIEWER) after some
// admissions, with the warm-up of a newly linked number.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func TestRateLimitsOverGraphQL(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		linked := now.Add(-sending.Day - time.Hour) // day 2 of the warm-up
		created := now.Add(-48 * time.Hour)
		if _, err := db.NewRaw(`INSERT INTO accounts (id, name, status, reason_code, reason_message, version, created_at, updated_at)
			VALUES ('acc', 'acc', 'ACTIVE', 'OK', '', 1, ?, ?)`, created, created).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewRaw(`INSERT INTO account_status_history (account_id, version, from_status, to_status, reason_code, reason_message, at)
			VALUES ('acc', 1, 'AUTHENTICATING', 'WARMING', 'OK', '', ?)`, linked).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		lim := ratelimit.NewMemory()
		policy, err := sending.New(db, lim, sending.Defaults{
			Limits:         []ratelimit.Limit{{Max: 6, Window: time.Minute}, {Max: 60, Window: time.Hour}, {Max: 300, Window: sending.Day}},
			NewChatsPerDay: 30,
			Warmup:         []int{20, 40, 80, 160},
		}, sending.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := graph.NewHandler(&graph.Resolver{Sending: policy}, graph.HandlerOptions{ComplexityLimit: 1000, ParserTokenLimit: 10000, Log: zerolog.Nop()})
		withRole := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Role: auth.Role(r.Header.Get("X-Test-Role"))}))
			h.ServeHTTP(w, r)
		})
		as := func(role auth.Role) *client.Client {
			return client.New(withRole, client.AddHeader("X-Test-Role", string(role)))
		}
		viewer, op := as(auth.Viewer), as(auth.Operator)

		const set = `mutation($in: SetRateLimitsInput!) { setRateLimits(input: $in) {
			limits { accountId limits { max windowSeconds } newChatsPerDay custom updatedAt }
			status { warmupDay warmupCap windows { max windowSeconds used remaining } } } }`
		good := map[string]any{"accountId": "acc", "limits": []map[string]any{{"max": 3, "windowSeconds": 60}, {"max": 100, "windowSeconds": 86400}}, "newChatsPerDay": 10}

		// VIEWER cannot change limits.
		if e := apptest.Post(t, viewer, set, client.Var("in", good)).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("VIEWER setRateLimits: %s %q", e.Code(), e.Message)
		}
		// Bad limits: INVALID_INPUT naming the field, with a suggestion.
		for _, bad := range []struct {
			limits []map[string]any
			nc     any
			field  string
		}{
			{[]map[string]any{}, nil, "input.limits"},
			{[]map[string]any{{"max": 0, "windowSeconds": 60}}, nil, "input.limits[0].max"},
			{[]map[string]any{{"max": 5, "windowSeconds": 3600}, {"max": 1, "windowSeconds": 60}}, nil, "input.limits[1].windowSeconds"},
			{[]map[string]any{{"max": 5, "windowSeconds": 1 << 40}}, nil, "input.limits[0].windowSeconds"},
			{[]map[string]any{{"max": 5, "windowSeconds": -1}}, nil, "input.limits[0].windowSeconds"},
			{[]map[string]any{{"max": 5, "windowSeconds": 60}}, 0, "input.newChatsPerDay"},
		} {
			in := map[string]any{"accountId": "acc", "limits": bad.limits, "newChatsPerDay": bad.nc}
			e := apptest.Post(t, op, set, client.Var("in", in)).Only(t)
			if e.Code() != string(apperr.InvalidInput) || e.Extensions["field"] != bad.field || e.Suggestion() == "" {
				t.Errorf("limits %v: %s field %v %q, want INVALID_INPUT on %s", bad.limits, e.Code(), e.Extensions["field"], e.Suggestion(), bad.field)
			}
		}
		if e := apptest.Post(t, op, set, client.Var("in", map[string]any{"accountId": "nobody", "limits": good["limits"]})).Only(t); e.Code() != string(apperr.NotFound) {
			t.Fatalf("unknown account: %s", e.Code())
		}

		data := apptest.Post(t, op, set, client.Var("in", good)).NoErrors(t)
		got := apptest.Path(data, "setRateLimits")
		if apptest.Path(got, "limits", "custom") != true || apptest.Path(got, "limits", "newChatsPerDay") != float64(10) || apptest.Path(got, "limits", "updatedAt") == nil {
			t.Fatalf("setRateLimits: %v", got)
		}
		// Day 2: the warm-up caps the daily 100 at 40.
		if apptest.Path(got, "status", "warmupDay") != float64(2) || apptest.Path(got, "status", "warmupCap") != float64(40) {
			t.Fatalf("status after set: %v", apptest.Path(got, "status"))
		}

		// Two sends, one to a new chat, straight through the limiter.
		e, err := policy.Limits(ctx, "acc")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if d, err := lim.Allow(ctx, "acc", e.Limits); err != nil || !d.Allowed {
				t.Fatalf("allow: %+v %v", d, err)
			}
		}
		if d, err := lim.Allow(ctx, sending.NewChatsKey("acc"), []ratelimit.Limit{e.NewChats}); err != nil || !d.Allowed {
			t.Fatalf("allow new chat: %+v %v", d, err)
		}
		data = apptest.Post(t, viewer, `{ rateLimitStatus(accountId: "acc") { accountId linkedAt warmupDay warmupCap
			windows { max windowSeconds used remaining nextFreeAt resetAt }
			newChats { max used remaining resetAt }
			configured { custom limits { max windowSeconds } } } }`).NoErrors(t)
		st := apptest.Path(data, "rateLimitStatus")
		ws, _ := apptest.Path(st, "windows").([]any)
		if len(ws) != 2 {
			t.Fatalf("windows: %v", st)
		}
		for i, want := range []struct{ max, secs, used, remaining float64 }{{3, 60, 2, 1}, {40, 86400, 2, 38}} {
			w := ws[i]
			if apptest.Path(w, "max") != want.max || apptest.Path(w, "windowSeconds") != want.secs || apptest.Path(w, "used") != want.used ||
				apptest.Path(w, "remaining") != want.remaining || apptest.Path(w, "resetAt") == nil || apptest.Path(w, "nextFreeAt") == nil {
				t.Errorf("window %d: %v, want %+v", i, w, want)
			}
		}
		if apptest.Path(st, "newChats", "max") != float64(10) || apptest.Path(st, "newChats", "used") != float64(1) || apptest.Path(st, "newChats", "remaining") != float64(9) {
			t.Errorf("new chats: %v", apptest.Path(st, "newChats"))
		}
		if apptest.Path(st, "warmupDay") != float64(2) || apptest.Path(st, "warmupCap") != float64(40) || apptest.Path(st, "linkedAt") == nil {
			t.Errorf("warm-up: %v", st)
		}
		if apptest.Path(st, "configured", "custom") != true {
			t.Errorf("configured: %v", apptest.Path(st, "configured"))
		}
		if e := apptest.Post(t, viewer, `{ rateLimitStatus(accountId: "nobody") { warmupDay } }`).Only(t); e.Code() != string(apperr.NotFound) {
			t.Fatalf("unknown account: %s", e.Code())
		}

		// resetRateLimits: OPERATOR only; the defaults again, usage kept.
		const reset = `mutation { resetRateLimits(input: {accountId: "acc"}) { limits { custom newChatsPerDay limits { max } } status { windows { max used } } } }`
		if e := apptest.Post(t, viewer, reset).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("VIEWER resetRateLimits: %s", e.Code())
		}
		data = apptest.Post(t, op, reset).NoErrors(t)
		ws, _ = apptest.Path(data, "resetRateLimits", "status", "windows").([]any)
		if apptest.Path(data, "resetRateLimits", "limits", "custom") != false || apptest.Path(data, "resetRateLimits", "limits", "newChatsPerDay") != float64(30) ||
			len(ws) != 3 || apptest.Path(ws[0], "max") != float64(6) || apptest.Path(ws[0], "used") != float64(2) || apptest.Path(ws[2], "max") != float64(40) {
			t.Fatalf("resetRateLimits: %v", data)
		}
	})
}
