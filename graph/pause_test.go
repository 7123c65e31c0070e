package graph_test

// Send pauses through the real GraphQL handler: pauseSending and
// resumeSending (OPERATOR), the pause in rateLimitStatus, and the live
// rateLimitChanged subscription.

import (
	"context"
	"fmt"
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

func TestPauseSendingOverGraphQL(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		created := time.Now().UTC().Add(-time.Hour)
		if _, err := db.NewRaw(`INSERT INTO accounts (id, name, status, reason_code, reason_message, version, created_at, updated_at)
			VALUES ('acc', 'acc', 'ACTIVE', 'OK', '', 1, ?, ?)`, created, created).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{
			Limits: []ratelimit.Limit{{Max: 6, Window: time.Minute}}, NewChatsPerDay: 30,
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

		const pause = `mutation($in: PauseSendingInput!) { pauseSending(input: $in) {
			pause { reason code since until message } status { paused pause { reason until } } } }`
		until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		in := map[string]any{"accountId": "acc", "until": until.Format(time.RFC3339), "note": "new campaign text under review"}
		if e := apptest.Post(t, viewer, pause, client.Var("in", in)).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("VIEWER pauseSending: %s", e.Code())
		}
		past := map[string]any{"accountId": "acc", "until": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
		if e := apptest.Post(t, op, pause, client.Var("in", past)).Only(t); e.Code() != string(apperr.InvalidInput) || e.Extensions["field"] != "input.until" {
			t.Fatalf("until in the past: %s %v", e.Code(), e.Extensions)
		}
		if e := apptest.Post(t, op, pause, client.Var("in", map[string]any{"accountId": "nobody"})).Only(t); e.Code() != string(apperr.NotFound) {
			t.Fatalf("unknown account: %s", e.Code())
		}
		data := apptest.Post(t, op, pause, client.Var("in", in)).NoErrors(t)
		got := apptest.Path(data, "pauseSending")
		if apptest.Path(got, "pause", "reason") != "MANUAL" || apptest.Path(got, "pause", "code") != nil ||
			apptest.Path(got, "pause", "until") != until.Format(time.RFC3339) ||
			apptest.Path(got, "pause", "message") != "Paused by an operator: new campaign text under review" ||
			apptest.Path(got, "status", "paused") != true || apptest.Path(got, "status", "pause", "reason") != "MANUAL" {
			t.Fatalf("pauseSending: %v", got)
		}
		// A send is refused while paused, until the pause's end.
		a, err := policy.Admit(ctx, "acc", false)
		if err != nil || a.Allowed || !a.RetryAt.Equal(until) {
			t.Fatalf("admit while paused: %+v %v", a, err)
		}
		data = apptest.Post(t, viewer, `{ rateLimitStatus(accountId: "acc") { paused pause { reason since until message } windows { used } } }`).NoErrors(t)
		if st := apptest.Path(data, "rateLimitStatus"); apptest.Path(st, "paused") != true || apptest.Path(st, "pause", "since") == nil {
			t.Fatalf("rateLimitStatus while paused: %v", st)
		}

		const resume = `mutation { resumeSending(input: {accountId: "acc"}) { endedPause { reason until } status { paused pause { reason } } } }`
		if e := apptest.Post(t, viewer, resume).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("VIEWER resumeSending: %s", e.Code())
		}
		data = apptest.Post(t, op, resume).NoErrors(t)
		if got := apptest.Path(data, "resumeSending"); apptest.Path(got, "endedPause", "reason") != "MANUAL" || apptest.Path(got, "status", "paused") != false || apptest.Path(got, "status", "pause") != nil {
			t.Fatalf("resumeSending: %v", got)
		}
		data = apptest.Post(t, op, resume).NoErrors(t)
		if got := apptest.Path(data, "resumeSending"); apptest.Path(got, "endedPause") != nil {
			t.Fatalf("resumeSending when not paused: %v", got)
		}
		if a, err := policy.Admit(ctx, "acc", false); err != nil || !a.Allowed {
			t.Fatalf("admit after resume: %+v %v", a, err)
		}
	})
}

func TestRateLimitChangedSubscription(t *testing.T) {
	s := apptest.Start(t, nil)
	operator := s.Token(t, auth.Operator)
	id := createAccount(t, s, operator, "Sender")

	sub := s.Client().WebsocketWithPayload(fmt.Sprintf(`subscription { rateLimitChanged(accountId: %q) {
		accountId paused pause { reason until message } windows { max used } } }`, id),
		map[string]any{"Authorization": "Bearer " + s.Token(t, auth.Viewer)})
	stuck := time.AfterFunc(30*time.Second, func() { _ = sub.Close() }) // gqlgen's client has no timeout
	defer stuck.Stop()
	defer func() { _ = sub.Close() }()
	type event struct {
		RateLimitChanged struct {
			AccountID string
			Paused    bool
			Pause     *struct {
				Reason, Message string
				Until           *string
			}
			Windows []struct{ Max, Used int }
		}
	}
	next := func() event {
		t.Helper()
		var ev event
		if err := sub.Next(&ev); err != nil {
			t.Fatalf("next event: %v", err)
		}
		return ev
	}
	if ev := next().RateLimitChanged; ev.AccountID != id || ev.Paused || len(ev.Windows) != 3 || ev.Windows[0].Max != 6 {
		t.Fatalf("snapshot = %+v", ev)
	}
	mutate(t, s, operator, fmt.Sprintf(`mutation { pauseSending(input: {accountId: %q, note: "x"}) { pause { reason } } }`, id))
	if ev := next().RateLimitChanged; !ev.Paused || ev.Pause == nil || ev.Pause.Reason != "MANUAL" || ev.Pause.Message != "Paused by an operator: x" {
		t.Fatalf("after pauseSending = %+v", ev)
	}
	mutate(t, s, operator, fmt.Sprintf(`mutation { resumeSending(input: {accountId: %q}) { status { paused } } }`, id))
	if ev := next().RateLimitChanged; ev.Paused || ev.Pause != nil {
		t.Fatalf("after resumeSending = %+v", ev)
	}
	mutate(t, s, operator, fmt.Sprintf(`mutation { setRateLimits(input: {accountId: %q, limits: [{max: 2, windowSeconds: 60}]}) { limits { custom } } }`, id))
	if ev := next().RateLimitChanged; len(ev.Windows) != 2 || ev.Windows[0].Max != 2 {
		t.Fatalf("after setRateLimits = %+v", ev)
	}
	// An admitted send: one coalesced event with the window used.
	if a, err := s.App.Sending.Admit(context.Background(), id, false); err != nil || !a.Allowed {
		t.Fatalf("admit: %+v %v", a, err)
	}
	if ev := next().RateLimitChanged; ev.Windows[0].Used != 1 {
		t.Fatalf("after an admitted send = %+v", ev)
	}

	c := openLive(t, s, apptest.TransportWS, s.Token(t, auth.Viewer))
	c.subscribe("rl", `subscription($id: ID!) { rateLimitChanged(accountId: $id) { accountId } }`, map[string]any{"id": "nobody"})
	if e := c.refused("rl"); e.Code() != "NOT_FOUND" {
		t.Fatalf("unknown account: %+v, want NOT_FOUND", e)
	}
}
