// Package apptest starts whole wagraph servers in the test process: the real
// app.New over a temporary database, served by httptest, with a GraphQL
// client, a websocket client speaking the GraphQL websocket protocols, and a
// TCP proxy that can cut a dependency off and bring it back.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/app"
	"wagraph/internal/auth"
	"wagraph/internal/config"
	"wagraph/internal/observe"
)

// Env overrides environment variables for config.Load; unset keys read as
// empty, so the documented defaults apply.
type Env map[string]string

// Config loads a configuration the way the server does (config.Load), from
// env alone. DATABASE_URL defaults to a fresh SQLite file in t.TempDir() and
// logs to JSON at debug level, so tests never touch ./data and can read logs.
func Config(t testing.TB, env Env, args ...string) config.Config {
	t.Helper()
	merged := Env{
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "wagraph.db"),
		"LOG_LEVEL":    "debug",
		"LOG_FORMAT":   "json",
	}
	for k, v := range env {
		merged[k] = v
	}
	cfg, err := config.Load(args, func(k string) string { return merged[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// Server is a running wagraph instance.
type Server struct {
	App  *app.App
	HTTP *httptest.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Logs holds everything the server logged.
	Logs *Logs
}

// Start builds an app from env (see Config) and serves it until the test ends.
func Start(t testing.TB, env Env) *Server {
	t.Helper()
	return StartConfig(t, Config(t, env))
}

// StartConfig builds an app from cfg (and opts) and serves it until the test
// ends.
func StartConfig(t testing.TB, cfg config.Config, opts ...app.Option) *Server {
	t.Helper()
	logs := &Logs{}
	log, err := observe.NewLogger(logs, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		t.Fatalf("logger: %v", err)
	}
	a, err := app.New(context.Background(), cfg, log, opts...)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &Server{App: a, HTTP: srv, URL: srv.URL, Logs: logs}
}

// Token creates an API token with role and returns its secret string.
func (s *Server) Token(t testing.TB, role auth.Role) string {
	t.Helper()
	_, secret, err := s.App.Auth.Create(context.Background(), "test-"+strings.ToLower(string(role)), role)
	if err != nil {
		t.Fatalf("create %s token: %v", role, err)
	}
	return secret
}

// Client returns gqlgen's test client aimed at /graphql. Its requests travel
// over real HTTP to the test server (through a reverse proxy), so body limits,
// middleware and transports behave as for any client. opts apply to every
// request, e.g. client.AddHeader("Authorization", "Bearer "+token).
func (s *Server) Client(opts ...client.Option) *client.Client {
	target, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = s.HTTP.Client().Transport
	// gqlgen's client swaps in the body after building the request, leaving
	// ContentLength at 0; send the real length, as ordinary clients do.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		proxy.ServeHTTP(w, r)
	})
	return client.New(h, append([]client.Option{client.Path("/graphql")}, opts...)...)
}

// Bearer is the client option that sends token as the Authorization header.
func Bearer(token string) client.Option {
	return client.AddHeader("Authorization", "Bearer "+token)
}

// GQLError is one error of a GraphQL response as clients see it.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e GQLError) Code() string { c, _ := e.Extensions["code"].(string); return c }

// Suggestion returns extensions.suggestion.
func (e GQLError) Suggestion() string { s, _ := e.Extensions["suggestion"].(string); return s }

// Errors decodes the errors of a raw response.
func Errors(t testing.TB, raw json.RawMessage) []GQLError {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var errs []GQLError
	if err := json.Unmarshal(raw, &errs); err != nil {
		t.Fatalf("decode errors %s: %v", raw, err)
	}
	return errs
}

// Logs is a goroutine-safe log sink.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines decodes every JSON log line written so far.
func (l *Logs) Lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// Get sends a GET to path with optional header pairs (key, value, ...) and
// returns the response with its body read.
func (s *Server) Get(t testing.TB, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return s.Do(t, http.MethodGet, path, nil, header...)
}

// Do sends a request to path with optional header pairs and returns the
// response with its body read. Redirects are not followed.
func (s *Server) Do(t testing.TB, method, path string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := *s.HTTP.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b.Bytes()
}

// Result is a GraphQL response as a client sees it.
type Result struct {
	// Status is the HTTP status when it was 400 or more, else 0.
	Status int
	Data   map[string]any
	Errors []GQLError
}

// Post sends query with gqlgen's client and decodes the answer, also when the
// server answered with an HTTP error status.
func Post(t testing.TB, c *client.Client, query string, opts ...client.Option) Result {
	t.Helper()
	raw, err := c.RawPost(query, opts...)
	if err != nil {
		// gqlgen's client reports statuses >= 400 as "http <code>: <body>".
		var status int
		var body string
		if n, _ := fmt.Sscanf(err.Error(), "http %d:", &status); n != 1 {
			t.Fatalf("post %q: %v", query, err)
		}
		body = strings.TrimSpace(err.Error()[strings.Index(err.Error(), ":")+1:])
		var r struct {
			Data   map[string]any
			Errors []GQLError
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("post %q: HTTP %d with a body that is not JSON: %s", query, status, body)
		}
		return Result{Status: status, Data: r.Data, Errors: r.Errors}
	}
	res := Result{Errors: Errors(t, raw.Errors)}
	if raw.Data != nil {
		m, ok := raw.Data.(map[string]any)
		if !ok {
			t.Fatalf("post %q: data is %T", query, raw.Data)
		}
		res.Data = m
	}
	return res
}

// Only returns the single error of r, failing the test unless there is
// exactly one.
func (r Result) Only(t testing.TB) GQLError {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one error, got %+v (data %v)", r.Errors, r.Data)
	}
	return r.Errors[0]
}

// NoErrors fails the test when r has errors, and returns its data.
func (r Result) NoErrors(t testing.TB) map[string]any {
	t.Helper()
	if len(r.Errors) > 0 || r.Status != 0 {
		t.Fatalf("unexpected errors (HTTP %d): %+v", r.Status, r.Errors)
	}
	return r.Data
}

// Path digs into decoded JSON by keys, e.g. Path(data, "viewer", "role").
func Path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
