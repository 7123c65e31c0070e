package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
)

// readiness is /readyz's answer: the status code and each component's status.
func readiness(t *testing.T, s *apptest.Server) (int, map[string]string) {
	t.Helper()
	resp, body := s.Get(t, "/readyz")
	var rep struct {
		Status     string
		Components []struct{ Name, Status, Error string }
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("/readyz body %s: %v", body, err)
	}
	out := map[string]string{"": rep.Status}
	for _, c := range rep.Components {
		out[c.Name] = c.Status
		if c.Status == "DOWN" && c.Error == "" {
			t.Errorf("%s is DOWN without saying why", c.Name)
		}
	}
	return resp.StatusCode, out
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// /readyz turns unready when Postgres or Redis stops answering and ready
// again when it is back: each sits behind a proxy the test cuts and restores.
func TestReadinessFollowsDependencies(t *testing.T) {
	pgURL := storetest.URL(t, store.Postgres)
	redisURL := testenv.RedisURL(t)
	pg := apptest.NewProxy(t, hostPort(t, pgURL))
	rd := apptest.NewProxy(t, hostPort(t, redisURL))
	s := apptest.Start(t, apptest.Env{"DATABASE_URL": pg.Rewrite(t, pgURL), "REDIS_URL": rd.Rewrite(t, redisURL)})
	if s.App.DB.Kind != store.Postgres {
		t.Fatalf("database is %s, want Postgres", s.App.DB.Kind)
	}

	want := func(step string, code int, states map[string]string) {
		t.Helper()
		gotCode, got := readiness(t, s)
		if gotCode != code {
			t.Errorf("%s: /readyz = %d %v, want %d", step, gotCode, got, code)
		}
		for k, v := range states {
			if got[k] != v {
				t.Errorf("%s: %q is %s, want %s (all: %v)", step, k, got[k], v, got)
			}
		}
	}
	allUp := map[string]string{"": "UP", "database": "UP", "migrations": "UP", "redis": "UP", "bus": "UP"}

	want("start", http.StatusOK, allUp)

	pg.Cut()
	want("postgres stopped", http.StatusServiceUnavailable, map[string]string{"": "DOWN", "database": "DOWN", "redis": "UP"})
	// The GraphQL health query reports the same.
	data := apptest.Post(t, s.Client(), `{ health { status } }`).NoErrors(t)
	if apptest.Path(data, "health", "status") != "DOWN" {
		t.Errorf("health query while Postgres is down: %v", data)
	}
	pg.Restore(t)
	want("postgres back", http.StatusOK, allUp)

	rd.Cut()
	want("redis stopped", http.StatusServiceUnavailable, map[string]string{"": "DOWN", "database": "UP", "redis": "DOWN", "bus": "DOWN"})
	rd.Restore(t)
	// The bus's subscription connection comes back after its retry delay:
	// wait for readiness, then check every component.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for code, _ := readiness(t, s); code != http.StatusOK && time.Now().Before(deadline); code, _ = readiness(t, s) {
		<-tick.C
	}
	want("redis back", http.StatusOK, allUp)
}
