package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/observe"
)

func up(context.Context) error { return nil }

func down(context.Context) error { return errors.New("connection refused") }

// hang blocks until its deadline, like a dependency that stopped answering.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestHealthReport(t *testing.T) {
	tests := []struct {
		name   string
		checks []observe.Check
		status string
		want   map[string]string // component -> status
		errs   map[string]string // component -> error fragment
	}{
		{"no checks", nil, "UP", map[string]string{}, nil},
		{"all up", []observe.Check{{"database", up}, {"redis", up}}, "UP", map[string]string{"database": "UP", "redis": "UP"}, nil},
		{"one down", []observe.Check{{"database", up}, {"redis", down}}, "DOWN",
			map[string]string{"database": "UP", "redis": "DOWN"}, map[string]string{"redis": "connection refused"}},
		{"timeout", []observe.Check{{"database", hang}, {"migrations", up}}, "DOWN",
			map[string]string{"database": "DOWN", "migrations": "UP"}, map[string]string{"database": "deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := observe.NewHealth("1.2.3", 50*time.Millisecond, tt.checks...)
			rep := h.Report(context.Background())
			if rep.Status != tt.status || rep.Up() != (tt.status == "UP") || rep.Version != "1.2.3" {
				t.Errorf("report %+v: want status %s", rep, tt.status)
			}
			if len(rep.Components) != len(tt.want) {
				t.Fatalf("components %+v, want %v", rep.Components, tt.want)
			}
			for i, c := range rep.Components {
				if c.Name != tt.checks[i].Name {
					t.Errorf("component %d is %s, want the order of the checks", i, c.Name)
				}
				if c.Status != tt.want[c.Name] || c.Up != (c.Status == "UP") {
					t.Errorf("%s: status %s up %v, want %s", c.Name, c.Status, c.Up, tt.want[c.Name])
				}
				if frag := tt.errs[c.Name]; !strings.Contains(c.Error, frag) || (frag == "") != (c.Error == "") {
					t.Errorf("%s: error %q, want %q", c.Name, c.Error, frag)
				}
				if c.LatencyMs < 0 {
					t.Errorf("%s: latency %v", c.Name, c.LatencyMs)
				}
			}
		})
	}
}

// Checks run concurrently: each of these two waits for the other to start,
// which only works when they run at the same time.
func TestHealthChecksRunConcurrently(t *testing.T) {
	a, b := make(chan struct{}), make(chan struct{})
	waitFor := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return errors.New("ran alone")
			}
		}
	}
	h := observe.NewHealth("v", 5*time.Second, observe.Check{Name: "a", Check: waitFor(a, b)})
	h.Add(observe.Check{Name: "b", Check: waitFor(b, a)})
	if rep := h.Report(context.Background()); !rep.Up() {
		t.Errorf("report %+v: checks did not run concurrently", rep)
	}
}

func TestLiveHandler(t *testing.T) {
	h := observe.NewHealth("1.2.3", time.Second, observe.Check{Name: "database", Check: down})
	rec := httptest.NewRecorder()
	h.LiveHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	// Liveness does not depend on the database: the process is alive.
	if rec.Code != http.StatusOK || body["status"] != "UP" || body["version"] != "1.2.3" || body["uptimeSeconds"] == nil {
		t.Errorf("/healthz = %d %v", rec.Code, body)
	}
	assertJSONHeaders(t, rec)
}

func TestReadyHandler(t *testing.T) {
	tests := []struct {
		name  string
		check func(context.Context) error
		code  int
		want  string
	}{
		{"ready", up, http.StatusOK, "UP"},
		{"unready", down, http.StatusServiceUnavailable, "DOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := observe.NewHealth("v", time.Second, observe.Check{Name: "database", Check: tt.check})
			rec := httptest.NewRecorder()
			h.ReadyHandler(func(*http.Request) bool { return true }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var rep observe.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.code || rep.Status != tt.want || len(rep.Components) != 1 || rep.Components[0].Status != tt.want {
				t.Errorf("/readyz = %d %s", rec.Code, rec.Body)
			}
			if tt.want == "DOWN" && !strings.Contains(rec.Body.String(), `"error":"connection refused"`) {
				t.Errorf("/readyz body %s does not say what is wrong", rec.Body)
			}
			assertJSONHeaders(t, rec)
		})
	}
}

// TestReadyHandlerHidesDetails: whoever may see the details (an
// authenticated caller) gets the error text; anyone else gets the component
// status only, since the text names addresses and users. The log gets the
// text once per change, not on every probe.
func TestReadyHandlerHidesDetails(t *testing.T) {
	secret := errors.New("dial tcp 10.20.30.40:5432: connect: connection refused (user wagraph)")
	var failing atomic.Bool
	failing.Store(true)
	h := observe.NewHealth("v", time.Second, observe.Check{Name: "database", Check: func(context.Context) error {
		if failing.Load() {
			return secret
		}
		return nil
	}})
	var logs bytes.Buffer
	h.LogChanges(zerolog.New(&logs))
	handler := h.ReadyHandler(func(r *http.Request) bool { return r.Header.Get("Authorization") != "" })
	get := func(authorized bool) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		if authorized {
			req.Header.Set("Authorization", "Bearer x")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for range 3 {
		code, body := get(false)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"DOWN"`) {
			t.Fatalf("unauthenticated /readyz = %d %s", code, body)
		}
		if strings.Contains(body, "10.20.30.40") || strings.Contains(body, `"error"`) {
			t.Fatalf("unauthenticated /readyz shows details: %s", body)
		}
	}
	if code, body := get(true); code != http.StatusServiceUnavailable || !strings.Contains(body, "10.20.30.40") {
		t.Fatalf("authenticated /readyz = %d %s, want the error text", code, body)
	}
	failing.Store(false)
	if code, _ := get(false); code != http.StatusOK {
		t.Fatalf("/readyz = %d after the dependency came back", code)
	}
	out := logs.String()
	if n := strings.Count(out, "dependency down"); n != 1 || !strings.Contains(out, "10.20.30.40") {
		t.Errorf("log has %d 'dependency down' lines, want one with the details:\n%s", n, out)
	}
	if !strings.Contains(out, "dependency up again") {
		t.Errorf("log does not say the dependency came back:\n%s", out)
	}
}

func assertJSONHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q: probes must not be cached", cc)
	}
}
