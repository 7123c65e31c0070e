package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/graph/model"
	"wagraph/internal/apperr"
	"wagraph/internal/auth"
	"wagraph/internal/observe"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// requestCtx is a request's context as the server builds it: a request id and
// a logger writing into the returned buffer.
func requestCtx(t *testing.T, id string) (context.Context, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := zerolog.New(logs).With().Str("request_id", id).Logger()
	ctx := log.WithContext(observe.WithRequestID(context.Background(), id))
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "viewer"}}})
	return ctx, logs
}

func TestErrorPresenter(t *testing.T) {
	rateLimited := apperr.New(apperr.RateLimited, "too many messages from this account")
	rateLimited.RetryAfter = 1500 * time.Millisecond
	_, parseErr := time.Parse(time.RFC3339, "yesterday")

	tests := []struct {
		name    string
		err     error
		message string
		ext     map[string]any
		logged  string // fragment the error log must hold; "" means nothing logged
		warned  string // fragment of a warning logged instead
	}{
		{
			name:    "coded error shows as it is",
			err:     apperr.New(apperr.NotFound, "no account a1"),
			message: "no account a1",
			ext:     map[string]any{"code": "NOT_FOUND", "suggestion": apperr.Suggestion(apperr.NotFound), "retryable": false},
		},
		{
			name:    "wrapped coded error hides its cause",
			err:     fmt.Errorf("service: %w", apperr.Wrap(errors.New("pq: password authentication failed"), apperr.Unavailable, "database unavailable")),
			message: "database unavailable",
			ext:     map[string]any{"code": "UNAVAILABLE", "suggestion": apperr.Suggestion(apperr.Unavailable), "retryable": true},
		},
		{
			name:    "retry after is rounded up to whole seconds",
			err:     rateLimited,
			message: "too many messages from this account",
			ext:     map[string]any{"code": "RATE_LIMITED", "suggestion": apperr.Suggestion(apperr.RateLimited), "retryable": true, "retryAfterSeconds": 2},
		},
		{
			name:    "invalid input names its field",
			err:     apperr.Invalid("phone", "phone number is not E.164", "Write it as +4915112345678."),
			message: "phone number is not E.164",
			ext:     map[string]any{"code": "INVALID_INPUT", "suggestion": "Write it as +4915112345678.", "retryable": false, "field": "phone"},
		},
		{
			name:    "unexpected error is masked and logged",
			err:     errors.New("pq: relation accounts does not exist"),
			message: "internal error (request req-7)",
			ext:     map[string]any{"code": "INTERNAL", "suggestion": apperr.Suggestion(apperr.Internal), "retryable": true, "requestId": "req-7"},
			logged:  "pq: relation accounts does not exist",
		},
		{
			name:    "database refusing connections is unavailable, not internal",
			err:     fmt.Errorf("account: list: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			message: "a dependency of this server is unavailable (request req-7)",
			ext:     map[string]any{"code": "UNAVAILABLE", "suggestion": apperr.Suggestion(apperr.Unavailable), "retryable": true, "requestId": "req-7"},
			warned:  "connection refused",
		},
		{
			name:    "connection dropped mid-query",
			err:     fmt.Errorf("account: get: %w", io.ErrUnexpectedEOF),
			message: "a dependency of this server is unavailable (request req-7)",
			ext:     map[string]any{"code": "UNAVAILABLE", "suggestion": apperr.Suggestion(apperr.Unavailable), "retryable": true, "requestId": "req-7"},
			warned:  "unexpected EOF",
		},
		{
			name:    "postgres shutting down",
			err:     fmt.Errorf("account: get: %w", pgError("57P01")),
			message: "a dependency of this server is unavailable (request req-7)",
			ext:     map[string]any{"code": "UNAVAILABLE", "suggestion": apperr.Suggestion(apperr.Unavailable), "retryable": true, "requestId": "req-7"},
			warned:  "SQLSTATE 57P01",
		},
		{
			name:    "postgres refusing a query is still internal",
			err:     fmt.Errorf("account: get: %w", pgError("42P01")),
			message: "internal error (request req-7)",
			ext:     map[string]any{"code": "INTERNAL", "suggestion": apperr.Suggestion(apperr.Internal), "retryable": true, "requestId": "req-7"},
			logged:  "SQLSTATE 42P01",
		},
		{
			name:    "coded INTERNAL carries the request id and is logged",
			err:     apperr.Wrap(errors.New("disk full"), apperr.Internal, "could not save"),
			message: "could not save",
			ext:     map[string]any{"code": "INTERNAL", "suggestion": apperr.Suggestion(apperr.Internal), "retryable": true, "requestId": "req-7"},
			logged:  "disk full",
		},
		{
			name:    "bad time input",
			err:     gqlerror.WrapPath(ast.Path{ast.PathName("since")}, parseErr),
			message: parseErr.Error(),
			ext:     map[string]any{"code": "INVALID_INPUT", "suggestion": "Send times as RFC 3339, e.g. 2026-11-24T21:16:52Z.", "retryable": false},
		},
		{
			name:    "introspection disabled",
			err:     gqlerror.WrapPath(ast.Path{ast.PathName("__schema")}, errors.New("introspection disabled")),
			message: "introspection is disabled on this server",
			ext: map[string]any{"code": "FORBIDDEN", "retryable": false,
				"suggestion": "Read the schema from the schema/ directory, or ask the operators to set GRAPHQL_INTROSPECTION=true."},
		},
		{
			name:    "gqlgen validation error keeps its code",
			err:     &gqlerror.Error{Message: `Cannot query field "nope"`, Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}},
			message: `Cannot query field "nope"`,
			ext:     map[string]any{"code": "GRAPHQL_VALIDATION_FAILED", "suggestion": requestErrorSuggestions["GRAPHQL_VALIDATION_FAILED"], "retryable": false},
		},
		{
			name:    "complexity",
			err:     &gqlerror.Error{Message: "operation has complexity 9", Extensions: map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}},
			message: "operation has complexity 9",
			ext:     map[string]any{"code": "QUERY_TOO_COMPLEX", "suggestion": apperr.Suggestion(apperr.QueryTooComplex), "retryable": false},
		},
		{
			name:    "gqlgen error with an unknown code",
			err:     &gqlerror.Error{Message: "odd", Extensions: map[string]any{"code": "SOMETHING_NEW"}},
			message: "odd",
			ext:     map[string]any{"code": "SOMETHING_NEW", "suggestion": apperr.Suggestion(apperr.InvalidInput), "retryable": false},
		},
		{
			name:    "gqlgen error without a code",
			err:     &gqlerror.Error{Message: "json request body could not be decoded"},
			message: "json request body could not be decoded",
			ext:     map[string]any{"code": "INVALID_INPUT", "suggestion": apperr.Suggestion(apperr.InvalidInput), "retryable": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, logs := requestCtx(t, "req-7")
			got := ErrorPresenter(ctx, tt.err)
			if got.Message != tt.message {
				t.Errorf("message %q, want %q", got.Message, tt.message)
			}
			// Compare as JSON, the way the client sees extensions.
			gotExt, _ := json.Marshal(got.Extensions)
			wantExt, _ := json.Marshal(tt.ext)
			if string(gotExt) != string(wantExt) {
				t.Errorf("extensions\n got %s\nwant %s", gotExt, wantExt)
			}
			if strings.Contains(string(gotExt)+got.Message, "pq:") || strings.Contains(got.Message, "disk full") {
				t.Errorf("the cause leaked to the client: %s %s", got.Message, gotExt)
			}
			log := logs.String()
			if tt.warned != "" {
				if !strings.Contains(log, tt.warned) || !strings.Contains(log, `"level":"warn"`) || !strings.Contains(log, `"request_id":"req-7"`) {
					t.Errorf("log %q: want a warning with %q and the request id", log, tt.warned)
				}
				return
			}
			if tt.logged == "" && log != "" {
				t.Errorf("logged %s, want nothing for an error the client can act on", log)
			}
			if tt.logged != "" && (!strings.Contains(log, tt.logged) || !strings.Contains(log, `"request_id":"req-7"`) || !strings.Contains(log, `"level":"error"`)) {
				t.Errorf("log %q: want an error line with %q and the request id", log, tt.logged)
			}
		})
	}
}

func TestRecoverFunc(t *testing.T) {
	ctx, logs := requestCtx(t, "req-9")
	err := RecoverFunc(ctx, "nil map write")
	presented := ErrorPresenter(ctx, err)
	if presented.Extensions["code"] != "INTERNAL" || presented.Extensions["requestId"] != "req-9" ||
		strings.Contains(presented.Message, "nil map") {
		t.Errorf("presented panic = %q %v: want masked INTERNAL with the request id", presented.Message, presented.Extensions)
	}
	log := logs.String()
	for _, want := range []string{`"panic":"nil map write"`, `"request_id":"req-9"`, `"stack":`, "TestRecoverFunc", "resolver panicked"} {
		if !strings.Contains(log, want) {
			t.Errorf("panic log lacks %s:\n%s", want, log)
		}
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&gqlerror.Error{Extensions: map[string]any{"code": "FORBIDDEN"}}, "FORBIDDEN"},
		{&gqlerror.Error{Message: "no code"}, "INTERNAL"},
		{apperr.New(apperr.NotFound, "x"), "NOT_FOUND"},
		{errors.New("plain"), "INTERNAL"},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestHasRole(t *testing.T) {
	next := func(context.Context) (any, error) { return "resolved", nil }
	badToken := apperr.New(apperr.Unauthenticated, "the API token was revoked")
	tests := []struct {
		name string
		ctx  context.Context
		need model.Role
		code apperr.Code // "" means allowed
	}{
		{"admin for admin", auth.WithPrincipal(context.Background(), auth.Principal{Role: auth.Admin}), model.RoleAdmin, ""},
		{"admin for viewer", auth.WithPrincipal(context.Background(), auth.Principal{Role: auth.Admin}), model.RoleViewer, ""},
		{"operator for operator", auth.WithPrincipal(context.Background(), auth.Principal{Role: auth.Operator}), model.RoleOperator, ""},
		{"operator for admin", auth.WithPrincipal(context.Background(), auth.Principal{Role: auth.Operator}), model.RoleAdmin, apperr.Forbidden},
		{"viewer for operator", auth.WithPrincipal(context.Background(), auth.Principal{Role: auth.Viewer}), model.RoleOperator, apperr.Forbidden},
		{"no token", context.Background(), model.RoleViewer, apperr.Unauthenticated},
		{"bad token reported as such", auth.WithError(context.Background(), badToken), model.RoleViewer, apperr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := hasRole(tt.ctx, nil, next, tt.need)
			if tt.code == "" {
				if err != nil || res != "resolved" {
					t.Errorf("= %v, %v; want the field resolved", res, err)
				}
				return
			}
			if apperr.CodeOf(err) != tt.code || res != nil {
				t.Errorf("= %v, %v; want %s", res, err, tt.code)
			}
			if tt.name == "bad token reported as such" && !errors.Is(err, badToken) {
				t.Errorf("err %v: want the recorded token failure", err)
			}
		})
	}
}

func TestHealthMapping(t *testing.T) {
	got := health(observe.Report{
		Status: "DOWN", Version: "9.9.9", UptimeSeconds: 42,
		Components: []observe.ComponentStatus{
			{Name: "database", Up: true, Status: "UP", LatencyMs: 1.5},
			{Name: "redis", Up: false, Status: "DOWN", Error: "dial tcp: connection refused", LatencyMs: 3},
		},
	})
	if got.Status != model.HealthStatusDown || got.Version != "9.9.9" || got.UptimeSeconds != 42 || len(got.Components) != 2 {
		t.Fatalf("health = %+v", got)
	}
	db, redis := got.Components[0], got.Components[1]
	if db.Name != "database" || db.Status != model.HealthStatusUp || db.Error != nil || db.LatencyMs != 1.5 {
		t.Errorf("database = %+v", db)
	}
	if redis.Status != model.HealthStatusDown || redis.Error == nil || *redis.Error != "dial tcp: connection refused" {
		t.Errorf("redis = %+v", redis)
	}
	if up := health(observe.Report{Status: "UP"}); up.Status != model.HealthStatusUp || up.Components != nil {
		t.Errorf("empty report = %+v", up)
	}
}

// pgError is a Postgres error as pgx shows it: an SQLSTATE.
type pgError string

func (e pgError) Error() string    { return "ERROR (SQLSTATE " + string(e) + ")" }
func (e pgError) SQLState() string { return string(e) }
