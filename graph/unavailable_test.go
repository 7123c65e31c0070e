package graph_test

import (
	"net/url"
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// TestDatabaseDownIsUnavailable: when Postgres stops answering, operations
// on a websocket opened before (whose token was checked then) fail with
// UNAVAILABLE and retryable, not with a masked INTERNAL; so do requests over
// HTTP. Postgres sits behind a proxy the test cuts.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	pgURL := storetest.URL(t, store.Postgres)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	pg := apptest.NewProxy(t, u.Host)
	s := apptest.Start(t, apptest.Env{"DATABASE_URL": pg.Rewrite(t, pgURL)})
	token := s.Token(t, auth.Viewer)
	const query = `{ accounts { edges { cursor } } }`
	for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
		t.Run(proto, func(t *testing.T) {
			live := openLive(t, s, proto, token)
			live.subscribe("before", query, nil)
			live.next("before")
			live.completed("before")

			pg.Cut()
			live.subscribe("down", query, nil)
			e := live.refused("down")
			if e.Code() != string(apperr.Unavailable) || e.Extensions["retryable"] != true || e.Suggestion() == "" {
				t.Errorf("with the database down: %+v, want UNAVAILABLE, retryable, with a suggestion", e)
			}
			pg.Restore(t)
		})
	}
	pg.Cut()
	e := apptest.Post(t, s.Client(apptest.Bearer(token)), query).Only(t)
	if e.Code() != string(apperr.Unavailable) || e.Extensions["retryable"] != true {
		t.Errorf("over HTTP with the database down: %+v, want UNAVAILABLE, retryable", e)
	}
}
