package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
)

// readiness is /readyz's answer as seen with token (none when ""): the
// status code, each component's status, and each component's error text.
func readiness(t *testing.T, s *apptest.Server, token string) (int, map[string]string, map[string]string) {
	t.Helper()
	var header []string
	if token != "" {
		header = []string{"Authorization", "Bearer " + token}
	}
	resp, body := s.Get(t, "/readyz", header...)
	var rep struct {
		Status     string
		Components []struct{ Name, Status, Error string }
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("/readyz body %s: %v", body, err)
	}
	states, errs := map[string]string{"": rep.Status}, map[string]string{}
	for _, c := range rep.Components {
		states[c.Name] = c.Status
		if c.Error != "" {
			errs[c.Name] = c.Error
		}
	}
	return resp.StatusCode, states, errs
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
		gotCode, got, errs := readiness(t, s, "")
		if len(errs) > 0 {
			t.Errorf("%s: /readyz without a token shows error details %v", step, errs)
		}
		if gotCode != code {
			t.Errorf("%s: /readyz = %d %v, want %d", step, gotCode, got, code)
		}
		for k, v := range states {
			if got[k] != v {
				t.Errorf("%s: %q is %s, want %s (all: %v)", step, k, got[k], v, got)
			}
		}
	}
	allUp := map[string]string{"": "UP", "database": "UP", "migrations": "UP", "redis": "UP"}

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
	want("redis stopped", http.StatusServiceUnavailable, map[string]string{"": "DOWN", "database": "UP", "redis": "DOWN"})
	// A token holder sees why.
	if _, _, errs := readiness(t, s, s.Token(t, auth.Viewer)); errs["redis"] == "" {
		t.Errorf("redis stopped: /readyz with a token does not say why: %v", errs)
	}
	rd.Restore(t)
	want("redis back", http.StatusOK, allUp)
}

// The server starts while Redis is down, instead of refusing: /readyz says
// redis is DOWN (why only to a token holder), and once Redis comes the bus
// connects by itself, /readyz turns ready and events flow.
func TestStartsWhileRedisIsDown(t *testing.T) {
	redisServer := testenv.StartRedis(t)
	redisServer.Kill(t)
	url := "redis://:secretpw@" + redisServer.Addr + "/0"
	s := apptest.Start(t, apptest.Env{"REDIS_URL": url, "PUBSUB_PUBLISH_TIMEOUT": "100ms"})

	code, states, errs := readiness(t, s, "")
	if code != http.StatusServiceUnavailable || states["redis"] != "DOWN" || states["database"] != "UP" {
		t.Fatalf("/readyz with Redis down = %d %v", code, states)
	}
	if len(errs) > 0 {
		t.Errorf("/readyz without a token shows error details %v", errs)
	}
	_, _, errs = readiness(t, s, s.Token(t, auth.Viewer))
	if errs["redis"] == "" || strings.Contains(errs["redis"], "secretpw") {
		t.Errorf("/readyz with a token: redis error %q, want the reason without the password", errs["redis"])
	}
	if logs := s.Logs.String(); !strings.Contains(logs, "Redis is unreachable; starting anyway") || strings.Contains(logs, "secretpw") {
		t.Errorf("the start-up log does not say Redis is down, or shows its password:\n%s", logs)
	}
	// The health query hides the details from callers without a token too.
	healthError := func(c *client.Client) any {
		data := apptest.Post(t, c, `{ health { components { name error } } }`).NoErrors(t)
		for _, comp := range apptest.Path(data, "health", "components").([]any) {
			if apptest.Path(comp, "name") == "redis" {
				return apptest.Path(comp, "error")
			}
		}
		t.Fatalf("health has no redis component: %v", data)
		return nil
	}
	if e := healthError(s.Client()); e != nil {
		t.Errorf("health query without a token shows redis error %v", e)
	}
	if e, _ := healthError(s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))).(string); e == "" {
		t.Error("health query with a token does not say why redis is down")
	}
	// Mutations work meanwhile: their events are not published, but the
	// change is committed.
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	apptest.Post(t, op, `mutation { createAccount(input: {name: "while redis is down"}) { account { id } } }`).NoErrors(t)

	redisServer.Start(t)
	deadline := time.After(30 * time.Second)
	for {
		code, states, _ := readiness(t, s, "")
		if code == http.StatusOK {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("/readyz still %d %v 30s after Redis came", code, states)
		case <-time.After(100 * time.Millisecond):
		}
	}
	sub, err := s.App.Bus.Subscribe(t.Context(), "readiness-test")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := s.App.Bus.Publish(t.Context(), "readiness-test", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C():
		if string(m.Payload) != "hello" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event through Redis after it came")
	}
}
