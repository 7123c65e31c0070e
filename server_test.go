package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/apperr"
	"wagraph/internal/auth"
	"wagraph/internal/config"
	"wagraph/internal/store"
)

// cleanEnv clears every setting so the process environment (a developer's
// REDIS_URL, say) cannot leak into a test, then applies env.
func cleanEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func tempDB(t *testing.T) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "wagraph.db")
}

// output is a goroutine-safe writer that can wait for a line.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	grown chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{grown: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.grown)
	o.grown = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor returns the first line containing s, waiting for it to be written
// (up to ctx), or fails the test.
func (o *output) waitFor(ctx context.Context, t *testing.T, s string) string {
	t.Helper()
	for {
		o.mu.Lock()
		text, grown := o.buf.String(), o.grown
		o.mu.Unlock()
		for line := range strings.Lines(text) {
			if strings.Contains(line, s) {
				return line
			}
		}
		select {
		case <-grown:
		case <-ctx.Done():
			t.Fatalf("no line with %q; output so far:\n%s", s, text)
		}
	}
}

func authenticate(t *testing.T, dbURL, token string) (auth.Principal, error) {
	t.Helper()
	db, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return auth.NewService(db.DB, false).Authenticate(context.Background(), token)
}

func TestMigrateCommand(t *testing.T) {
	dbURL := tempDB(t)
	cleanEnv(t, map[string]string{"DATABASE_URL": dbURL, "LOG_FORMAT": "json"})
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"migrate"}, &stdout, &stderr); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "migrations done") || strings.Contains(stderr.String(), `"count":0`) {
		t.Errorf("first migrate log: %s", stderr.String())
	}
	db, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSchema(context.Background()); err != nil {
		t.Errorf("schema after migrate: %v", err)
	}
	_ = db.Close()

	stderr.Reset()
	if err := run(t.Context(), []string{"migrate"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), `"count":0`) {
		t.Errorf("second migrate should apply nothing: %s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("migrate wrote to stdout: %q", stdout.String())
	}
}

func TestTokenCommand(t *testing.T) {
	dbURL := tempDB(t)
	cleanEnv(t, map[string]string{"DATABASE_URL": dbURL})

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"token", "create", "--role", "VIEWER"}, &stdout, &stderr)
	if apperr.CodeOf(err) != apperr.SchemaNotMigrated {
		t.Fatalf("token create on an unmigrated database: %v, want SCHEMA_NOT_MIGRATED", err)
	}
	if err := run(t.Context(), []string{"migrate"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		role auth.Role
		tok  string // token name
	}{
		{"viewer", []string{"token", "create", "--role", "VIEWER"}, auth.Viewer, "cli"},
		{"named admin", []string{"token", "create", "--role", "ADMIN", "--name", "me"}, auth.Admin, "me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), tt.args, &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			token := strings.TrimSpace(stdout.String())
			if strings.Count(stdout.String(), "\n") != 1 || !strings.HasPrefix(token, "wag_") {
				t.Fatalf("stdout %q: want exactly the token on one line", stdout.String())
			}
			if strings.Contains(stderr.String(), token) || !strings.Contains(stderr.String(), "shown only this once") {
				t.Errorf("stderr %q: want a note without the token", stderr.String())
			}
			p, err := authenticate(t, dbURL, token)
			if err != nil || p.Role != tt.role || p.TokenName != tt.tok {
				t.Errorf("printed token authenticates as %+v, %v; want %s %q", p, err, tt.role, tt.tok)
			}
		})
	}

	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"bad role", []string{"token", "create", "--role", "ROOT"}, "use VIEWER, OPERATOR or ADMIN"},
		{"no role", []string{"token", "create"}, "unknown role"},
		{"no subcommand", []string{"token"}, "usage: wagraph token create"},
		{"wrong subcommand", []string{"token", "delete"}, "usage: wagraph token create"},
		{"unknown flag", []string{"token", "create", "--rol", "ADMIN"}, "flag provided but not defined"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(stdout.String(), "wag_") {
				t.Errorf("a refused command printed a token: %q", stdout.String())
			}
		})
	}
}

func TestBadConfigurationStopsEveryCommand(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t), "PUBSUB_BUFFER": "lots"})
	for _, args := range [][]string{{"migrate"}, {"serve"}, {"token", "create", "--role", "ADMIN"}, nil} {
		err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "configuration") || !strings.Contains(err.Error(), "PUBSUB_BUFFER") {
			t.Errorf("run %v: %v, want a configuration error naming PUBSUB_BUFFER", args, err)
		}
	}
}

// server is a `wagraph serve` running in the test process.
type server struct {
	base           string
	stdout, stderr *output
	cancel         context.CancelFunc
	done           chan error
}

func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: newOutput(), stderr: newOutput(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, append([]string{"serve"}, args...), s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	wait, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	up := s.stderr.waitFor(wait, t, "wagraph is up")
	var line struct{ GraphQL string }
	if err := json.Unmarshal([]byte(up), &line); err != nil || line.GraphQL == "" {
		t.Fatalf("startup line %q: %v", up, err)
	}
	s.base = strings.TrimSuffix(line.GraphQL, "/graphql")
	return s
}

// stop cancels serve, as the first SIGINT does, and returns its result.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
		return nil
	}
}

func (s *server) query(t *testing.T, token, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestServe(t *testing.T) {
	dbURL := tempDB(t)
	cleanEnv(t, map[string]string{"DATABASE_URL": dbURL, "LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "LOG_LEVEL": "debug"})

	first := startServe(t)
	out := first.stdout.String()
	var token string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "wag_") {
			token = f
			break
		}
	}
	if token == "" {
		t.Fatalf("first start printed no token:\n%s", out)
	}
	if n := strings.Count(out, token); n != 2 {
		// once on its own, once inside the header to paste
		t.Errorf("stdout shows the token %d times, want it in the one first-start message:\n%s", n, out)
	}
	if !strings.Contains(out, first.base+"/graphiql") || !strings.Contains(out, `{"Authorization": "Bearer `+token+`"}`) {
		t.Errorf("first-start message lacks the GraphiQL URL or the header to paste:\n%s", out)
	}
	if strings.Contains(first.stderr.String(), token) || strings.Contains(first.stderr.String(), strings.Split(token, "_")[2]) {
		t.Errorf("the token was logged:\n%s", first.stderr.String())
	}
	// The debug log shows the configuration.
	first.stderr.waitFor(t.Context(), t, `"message":"configuration"`)

	got := first.query(t, token, `{ health { status components { name status } } viewer { role } }`)
	if apptest := got["data"]; apptest == nil || !strings.Contains(mustJSON(got), `"role":"ADMIN"`) || !strings.Contains(mustJSON(got), `"status":"UP"`) {
		t.Errorf("acceptance query with the printed token: %s", mustJSON(got))
	}
	if refused := first.query(t, "", `{ viewer { role } }`); !strings.Contains(mustJSON(refused), `"code":"UNAUTHENTICATED"`) ||
		!strings.Contains(mustJSON(refused), `"suggestion"`) {
		t.Errorf("without a token: %s", mustJSON(refused))
	}

	// An open websocket is closed cleanly by the shutdown.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(first.base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"Authorization":"Bearer `+token+`"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "connection_ack") {
		t.Fatalf("websocket init: %s %v", msg, err)
	}

	if err := first.stop(t); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
			t.Errorf("websocket ended with %v (%v), want a normal close", code, err)
		}
		break
	}
	first.stderr.waitFor(t.Context(), t, `"message":"stopped"`)
	if _, err := net.Dial("tcp", strings.TrimPrefix(first.base, "http://")); err == nil {
		t.Error("still accepting connections after shutdown")
	}

	second := startServe(t)
	if strings.Contains(second.stdout.String(), "wag_") {
		t.Errorf("second start printed a token:\n%s", second.stdout.String())
	}
	if got := second.query(t, token, `{ viewer { role } }`); !strings.Contains(mustJSON(got), `"ADMIN"`) {
		t.Errorf("first start's token on the second start: %s", mustJSON(got))
	}
	if err := second.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestServeWithAuthDisabled(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t), "LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "AUTH_DISABLED": "true"})
	s := startServe(t)
	if strings.Contains(s.stdout.String(), "wag_") {
		t.Errorf("printed a token with auth disabled:\n%s", s.stdout.String())
	}
	warn := s.stderr.waitFor(t.Context(), t, "AUTH IS DISABLED")
	if !strings.Contains(warn, `"level":"warn"`) {
		t.Errorf("auth-disabled notice is not a warning: %s", warn)
	}
	if got := s.query(t, "", `{ viewer { role } }`); !strings.Contains(mustJSON(got), `"ADMIN"`) {
		t.Errorf("viewer with auth disabled: %s", mustJSON(got))
	}
}

func TestServeFailsToStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"address in use", map[string]string{"LISTEN_ADDR": busy.Addr().String()}, nil, "LISTEN_ADDR"},
		{"unmigrated database", map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "MIGRATE_ON_START": "false"}, nil, "wagraph migrate"},
		{"bad flag", map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}, []string{"--port=1"}, "--listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": tempDB(t)}
			for k, v := range tt.env {
				env[k] = v
			}
			cleanEnv(t, env)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			err := run(ctx, append([]string{"serve"}, tt.args...), &stdout, &bytes.Buffer{})
			if err == nil {
				t.Fatal("serve started")
			}
			msg := err.Error()
			if ae, ok := apperr.As(err); ok {
				msg += " " + ae.Suggestion
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("err = %v, want it to mention %q", msg, tt.want)
			}
			if strings.Contains(stdout.String(), "wag_") {
				t.Errorf("a failed start printed a token: %s", stdout.String())
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(errors.Join(errors.New("mustJSON"), err))
	}
	return string(b)
}

func TestSignals(t *testing.T) {
	forced := make(chan struct{})
	ctx, stop := interruptContext(func() { close(forced) })
	defer stop()
	if ctx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done() // the first signal starts the graceful shutdown
	select {
	case <-forced:
		t.Fatal("the first signal forced an exit")
	default:
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-forced // the second one exits at once
}

func TestSignalsStop(t *testing.T) {
	ctx, stop := interruptContext(func() { t.Error("forced without a signal") })
	stop()
	stop() // twice is harmless
	if ctx.Err() == nil {
		t.Error("stop left the context running")
	}
}

// A request that never finishes does not hold the shutdown past
// SHUTDOWN_TIMEOUT.
func TestShutdownTimeout(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t), "LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "SHUTDOWN_TIMEOUT": "100ms"})
	s := startServe(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request whose body never comes: once the server asks for the body
	// (100 Continue), the handler is running and waits for ever.
	if _, err := conn.Write([]byte("POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "100 Continue") {
		t.Fatalf("server answered %q, %v; want 100 Continue", status, err)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	s.stderr.waitFor(t.Context(), t, "shutdown timed out")
	s.stderr.waitFor(t.Context(), t, `"message":"stopped"`)
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("stuck connection: %v, want it closed", err)
	}
}

func TestCommandsReportAnUnusableDatabase(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cleanEnv(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(blocker, "db", "x.db")})
	for _, args := range [][]string{{"migrate"}, {"token", "create", "--role", "ADMIN"}} {
		err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "store") {
			t.Errorf("run %v: %v, want the database error", args, err)
		}
	}
}

func TestTuneGCKeepsAnOperatorsGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tuneGC(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("without GOGC the target is %d, want %d", got, gcPercent)
	}
	tuneGC(func(string) (string, bool) { return "50", true })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the target was changed to %d", got)
	}
}

func TestHelp(t *testing.T) {
	// A database the help must not touch: were a command to run instead of
	// the help, it would create this file.
	dbFile := filepath.Join(t.TempDir(), "wagraph.db")
	cleanEnv(t, map[string]string{"DATABASE_URL": "sqlite:" + dbFile})
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"-help"}, {"help"},
		{"serve", "--help"}, {"migrate", "-h"}, {"token", "create", "--help"}, {"--simulate", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			if err := run(ctx, args, &stdout, &stderr); err != nil {
				t.Fatalf("run %q: %v, want the usage and exit 0", args, err)
			}
			for _, want := range []string{
				"wagraph [serve]", "--listen", "--log-level", "--simulate",
				"wagraph migrate", "wagraph token create --role VIEWER|OPERATOR|ADMIN [--name NAME]", "wagraph help", "README.md",
			} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("usage lacks %q:\n%s", want, stdout.String())
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("help wrote to stderr: %q", stderr.String())
			}
			if _, err := os.Stat(dbFile); err == nil {
				t.Errorf("help opened the database")
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t)})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, []string{"migrat"}, &stdout, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown command "migrat"`) || !strings.Contains(err.Error(), "wagraph help") {
		t.Errorf("run migrat: %v, want an unknown-command error pointing at `wagraph help`", err)
	}
}
