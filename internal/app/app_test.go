package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/rs/zerolog"

	"wagraph/internal/app"
	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
)

// / is the admin console (a page with a strict CSP and a module script),
// its assets are under /console/, and GraphiQL stays at /graphiql.
func TestRootIsTheConsoleAndGraphiQLStays(t *testing.T) {
	s := apptest.Start(t, nil)
	resp, body := s.Get(t, "/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `<script type="module" src="/console/app.js">`) {
		t.Errorf("GET / = %d %s:\n%s\nwant the console page", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("GET / has CSP %q, want scripts from 'self' only", csp)
	}
	if resp, _ := s.Get(t, "/console/app.js"); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET /console/app.js = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = s.Get(t, "/graphiql")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /graphiql = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<html", "graphiql", "/graphql", "/graphiql/assets/"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GraphiQL page lacks %q", want)
		}
	}
	if resp, _ := s.Get(t, "/nothing-here"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404", resp.StatusCode)
	}
}

func TestProbes(t *testing.T) {
	s := apptest.Start(t, nil)
	resp, body := s.Get(t, "/healthz")
	var live map[string]any
	if err := json.Unmarshal(body, &live); err != nil || resp.StatusCode != http.StatusOK || live["status"] != "UP" || live["version"] != app.Version {
		t.Errorf("/healthz = %d %s", resp.StatusCode, body)
	}
	resp, body = s.Get(t, "/readyz")
	var ready struct {
		Status     string
		Components []struct{ Name, Status string }
	}
	if err := json.Unmarshal(body, &ready); err != nil || resp.StatusCode != http.StatusOK || ready.Status != "UP" || len(ready.Components) != 3 {
		t.Errorf("/readyz = %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.Do(t, http.MethodPost, "/healthz", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}

func TestMetricsAfterRequests(t *testing.T) {
	s := apptest.Start(t, nil)
	tok := s.Token(t, auth.Viewer)
	apptest.Post(t, s.Client(apptest.Bearer(tok)), `query Who { viewer { role } }`).NoErrors(t)
	apptest.Post(t, s.Client(), `{ viewer { role } }`)
	s.Get(t, "/healthz")

	resp, body := s.Get(t, "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, series := range []string{
		`wagraph_http_requests_total{code="200",method="POST",route="/graphql"} 2`,
		`wagraph_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		// named by the root field, never by the client's operation name
		`wagraph_graphql_operations_total{name="viewer",result="ok",type="query"} 1`,
		`wagraph_graphql_operations_total{name="viewer",result="UNAUTHENTICATED",type="query"} 1`,
		`wagraph_graphql_operation_duration_seconds_count{name="viewer",type="query"} 2`,
		`wagraph_http_request_duration_seconds_count{method="POST",route="/graphql"} 2`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	s := apptest.Start(t, nil)
	resp, _ := s.Get(t, "/healthz", "X-Request-ID", "probe-1")
	if got := resp.Header.Get("X-Request-ID"); got != "probe-1" {
		t.Errorf("X-Request-ID = %q, want the client's", got)
	}
	resp, _ = s.Get(t, "/healthz", "X-Request-ID", "not ok!")
	if got := resp.Header.Get("X-Request-ID"); got == "" || got == "not ok!" {
		t.Errorf("X-Request-ID = %q, want a fresh id", got)
	}
	var found bool
	for _, l := range s.Logs.Lines(t) {
		if l["request_id"] == "probe-1" && l["path"] == "/healthz" {
			found = true
		}
	}
	if !found {
		t.Errorf("no access log line with request_id probe-1:\n%s", s.Logs.String())
	}
}

// An unexpected failure reaches the client as INTERNAL with the request id,
// and the log line with that id says what really happened.
func TestInternalErrorsAreMaskedAndLogged(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"AUTH_DISABLED": "true"})
	_ = s.App.DB.Close() // the token list now fails with a database error
	r := apptest.Post(t, s.Client(client.AddHeader("X-Request-ID", "req-internal-1")), `{ apiTokens { id } }`)
	e := r.Only(t)
	if e.Code() != string(apperr.Internal) || e.Extensions["requestId"] != "req-internal-1" || e.Extensions["retryable"] != true {
		t.Errorf("error %+v: want INTERNAL with requestId req-internal-1", e)
	}
	if strings.Contains(e.Message, "sql") || strings.Contains(e.Message, "closed") || !strings.Contains(e.Message, "req-internal-1") {
		t.Errorf("message %q: want it masked, naming the request", e.Message)
	}
	var logged bool
	for _, l := range s.Logs.Lines(t) {
		if l["level"] == "error" && l["request_id"] == "req-internal-1" && strings.Contains(l["error"].(string), "closed") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the real error was not logged with the request id:\n%s", s.Logs.String())
	}
}

func TestCORS(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"ALLOWED_ORIGINS": "https://admin.example.com/, http://localhost:5173"})
	preflight := func(origin string) *http.Response {
		t.Helper()
		resp, _ := s.Do(t, http.MethodOptions, "/graphql", nil,
			"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		return resp
	}
	for _, origin := range []string{"https://admin.example.com", "http://localhost:5173"} {
		t.Run("allowed "+origin, func(t *testing.T) {
			resp := preflight(origin)
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Vary"), "Origin") {
				t.Errorf("preflight = %d %v", resp.StatusCode, h)
			}
		})
	}
	for _, origin := range []string{"https://evil.example.com", "https://admin.example.com.evil.example", "http://admin.example.com"} {
		t.Run("refused "+origin, func(t *testing.T) {
			resp := preflight(origin)
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-Allow-") {
					t.Errorf("preflight from %s got %s: %v", origin, k, resp.Header)
				}
			}
		})
	}
	t.Run("actual request", func(t *testing.T) {
		body := []byte(`{"query":"{ health { status } }"}`)
		resp, got := s.Do(t, http.MethodPost, "/graphql", body, "Origin", "https://admin.example.com", "Content-Type", "application/json")
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://admin.example.com" || !strings.Contains(string(got), `"UP"`) {
			t.Errorf("POST from the admin app = %d %v %s", resp.StatusCode, resp.Header, got)
		}
	})
}

func TestWebsocketOrigins(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"ALLOWED_ORIGINS": "https://admin.example.com"})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{s.URL, true},
		{"https://admin.example.com", true},
		{"https://evil.example.com", false},
		{"https://admin.example.com.evil.example", false},
		{"http://admin.example.com", false}, // same host, insecure scheme
	}
	for _, tt := range tests {
		t.Run("origin "+tt.origin, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			ws, resp, err := s.DialWS(t.Context(), t, apptest.TransportWS, h)
			if tt.ok {
				if err != nil {
					t.Fatalf("upgrade refused: %v", err)
				}
				if ws.Conn.Subprotocol() != apptest.TransportWS {
					t.Errorf("subprotocol %q", ws.Conn.Subprotocol())
				}
				return
			}
			if err == nil {
				t.Fatal("upgrade from a foreign origin accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("refused upgrade: %v, want 403", resp)
			}
		})
	}
}

func TestRequestBodyLimit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"MAX_REQUEST_BYTES": "200"})
	c := s.Client()
	apptest.Post(t, c, `{ health { status } }`).NoErrors(t)

	t.Run("declared length", func(t *testing.T) {
		r := apptest.Post(t, c, `{ health { status } }`+strings.Repeat(" ", 300))
		e := r.Only(t)
		if r.Status != http.StatusRequestEntityTooLarge || e.Code() != string(apperr.BadRequest) ||
			!strings.Contains(e.Message, "MAX_REQUEST_BYTES") || !strings.Contains(e.Suggestion(), "smaller") {
			t.Errorf("oversized body: %d %+v", r.Status, e)
		}
	})
	t.Run("streamed body", func(t *testing.T) {
		body := `{"query":"{ health { status } }` + strings.Repeat(" ", 300) + `"}`
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", io.MultiReader(strings.NewReader(body))) // unknown length
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(got), "too large") ||
			!strings.Contains(string(got), `"BAD_REQUEST"`) || strings.Contains(string(got), `"status":"UP"`) {
			t.Errorf("chunked oversized body: %d %s", resp.StatusCode, got)
		}
	})
}

func TestMigrateOnStartTwice(t *testing.T) {
	env := apptest.Env{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "twice.db")}
	first := apptest.Start(t, env)
	tok := first.Token(t, auth.Admin)
	if !strings.Contains(first.Logs.String(), "database migrated") {
		t.Fatalf("first start did not migrate:\n%s", first.Logs.String())
	}
	second := apptest.Start(t, env) // same file, second instance
	if strings.Contains(second.Logs.String(), "database migrated") {
		t.Errorf("second start applied migrations again:\n%s", second.Logs.String())
	}
	data := apptest.Post(t, second.Client(apptest.Bearer(tok)), `{ viewer { role } }`).NoErrors(t)
	if apptest.Path(data, "viewer", "role") != "ADMIN" {
		t.Errorf("token from the first start on the second: %v", data)
	}
}

func TestRefusesUnmigratedDatabase(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			cfg := apptest.Config(t, apptest.Env{"DATABASE_URL": storetest.URL(t, d), "MIGRATE_ON_START": "false"})
			a, err := app.New(context.Background(), cfg, zerolog.Nop())
			if err == nil {
				a.Close()
				t.Fatal("app.New accepted an unmigrated database")
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.SchemaNotMigrated || !strings.Contains(ae.Suggestion, "wagraph migrate") {
				t.Errorf("err = %v, want SCHEMA_NOT_MIGRATED telling to run wagraph migrate", err)
			}
		})
	}
}

func TestMigrateOnStartFalseOnMigratedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := store.Open(context.Background(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	s := apptest.Start(t, apptest.Env{"DATABASE_URL": "sqlite:" + path, "MIGRATE_ON_START": "false"})
	if resp, body := s.Get(t, "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d %s", resp.StatusCode, body)
	}
}

func TestStartFailures(t *testing.T) {
	t.Run("database directory cannot be created", func(t *testing.T) {
		blocker := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := apptest.Config(t, apptest.Env{"DATABASE_URL": "sqlite:" + filepath.Join(blocker, "sub", "x.db")})
		if _, err := app.New(context.Background(), cfg, zerolog.Nop()); err == nil {
			t.Fatal("app.New succeeded without a usable database")
		}
	})
}

func TestRedisIsAReadinessComponent(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	s := apptest.Start(t, apptest.Env{"REDIS_URL": redisURL})
	if s.App.Redis == nil {
		t.Fatal("REDIS_URL set but no Redis client")
	}
	data := apptest.Post(t, s.Client(), `{ health { status components { name status } } }`).NoErrors(t)
	comps, _ := apptest.Path(data, "health", "components").([]any)
	var names []string
	for _, c := range comps {
		names = append(names, apptest.Path(c, "name").(string))
	}
	if strings.Join(names, ",") != "database,migrations,redis,bus" {
		t.Errorf("components %v, want database, migrations, redis and bus", names)
	}
}

func TestCloseReleasesTheDatabase(t *testing.T) {
	cfg := apptest.Config(t, nil)
	a, err := app.New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := a.DB.Ping(context.Background()); err == nil {
		t.Error("database still usable after Close")
	}
	a.Close() // twice is harmless
}
