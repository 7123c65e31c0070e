package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// clock is a settable time source for the service.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)} }
func serviceAt(db *store.DB, c *clock) *Service {
	s := NewService(db.DB, false)
	s.now = c.now
	return s
}

func wantCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	ae, ok := apperr.As(err)
	if !ok || ae.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	return ae
}

func TestCreateAndAuthenticate(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := serviceAt(db, c)
		tok, secret, err := s.Create(ctx, "  admin-app ", Operator)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Name != "admin-app" || tok.Role != Operator || tok.RevokedAt != nil || !tok.CreatedAt.Equal(c.t) {
			t.Errorf("created token = %+v", tok)
		}
		parts := strings.Split(secret, "_")
		if len(parts) != 3 || parts[0] != "wag" || parts[1] != tok.ID || len(parts[2]) != 64 {
			t.Fatalf("token string %q: want wag_<id>_<64 hex>", secret)
		}

		// Only the hash is stored.
		var hash string
		if err := db.NewSelect().Table("api_tokens").Column("secret_hash").Where("id = ?", tok.ID).Scan(ctx, &hash); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(parts[2]))
		if hash != hex.EncodeToString(sum[:]) || strings.Contains(hash, parts[2]) {
			t.Errorf("stored secret_hash %q is not the SHA-256 of the secret", hash)
		}

		for _, form := range []string{secret, "Bearer " + secret, "bearer " + secret, "  BEARER   " + secret + "  "} {
			p, err := s.Authenticate(ctx, form)
			if err != nil {
				t.Fatalf("Authenticate(%q): %v", form, err)
			}
			if p != (Principal{TokenID: tok.ID, TokenName: "admin-app", Role: Operator}) {
				t.Errorf("Authenticate(%q) = %+v", form, p)
			}
		}
	})
}

func TestCreateRefusesBadInput(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s := NewService(db.DB, false)
		for _, tt := range []struct {
			name, field string
			role        Role
		}{
			{" ", "name", Viewer},
			{strings.Repeat("n", MaxTokenNameLength+1), "name", Viewer},
			{"\u200b\u200b", "name", Viewer},
			{"admin\u202eppa", "name", Viewer},
			{"admin\napp", "name", Viewer},
			{"ok", "role", Role("ROOT")},
			{"ok", "role", Role("viewer")},
		} {
			_, _, err := s.Create(context.Background(), tt.name, tt.role)
			ae := wantCode(t, err, apperr.InvalidInput)
			if ae.Field != tt.field || ae.Suggestion == "" {
				t.Errorf("Create(%q, %q): field %q suggestion %q, want field %q and a suggestion", tt.name, tt.role, ae.Field, ae.Suggestion, tt.field)
			}
		}
	})
}

func TestAuthenticateRefuses(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewService(db.DB, false)
		tok, secret, err := s.Create(ctx, "ops", Operator)
		if err != nil {
			t.Fatal(err)
		}
		revoked, revokedSecret, err := s.Create(ctx, "old", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		last := "0"
		if strings.HasSuffix(secret, "0") {
			last = "1"
		}
		wrongSecret := secret[:len(secret)-1] + last
		tests := []struct {
			name, bearer, message string
		}{
			{"empty", "", "no API token was sent"},
			{"bearer without a token", "Bearer ", "no API token was sent"},
			{"malformed", "Bearer hunter2", "malformed"},
			{"wrong prefix", "tok_" + tok.ID + "_abc", "malformed"},
			{"empty id", "wag__abc", "malformed"},
			{"empty secret", "wag_" + tok.ID + "_", "malformed"},
			{"unknown id", "wag_000000000000_" + strings.Repeat("a", 64), "not valid"},
			{"wrong secret", wrongSecret, "not valid"},
			{"revoked", revokedSecret, "revoked"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := s.Authenticate(ctx, tt.bearer)
				ae := wantCode(t, err, apperr.Unauthenticated)
				if !strings.Contains(ae.Message, tt.message) {
					t.Errorf("message %q, want it to say %q", ae.Message, tt.message)
				}
				if ae.Suggestion == "" {
					t.Error("no suggestion")
				}
				if p != (Principal{}) {
					t.Errorf("refused token still gave principal %+v", p)
				}
			})
		}
	})
}

func TestAuthenticateRecordsUseAtMostOncePerMinute(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := serviceAt(db, c)
		tok, secret, err := s.Create(ctx, "ops", Operator)
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() *time.Time {
			t.Helper()
			ts, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ts {
				if x.ID == tok.ID {
					return x.LastUsedAt
				}
			}
			t.Fatalf("token %s not listed", tok.ID)
			return nil
		}
		if lu := lastUsed(); lu != nil {
			t.Fatalf("new token has last_used_at %v", lu)
		}
		first := c.t
		mustAuth := func() {
			t.Helper()
			if _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatal(err)
			}
		}
		mustAuth()
		if lu := lastUsed(); lu == nil || !lu.Equal(first) {
			t.Fatalf("last_used_at = %v, want %v", lu, first)
		}
		c.advance(30 * time.Second)
		mustAuth()
		if lu := lastUsed(); !lu.Equal(first) {
			t.Errorf("last_used_at moved to %v within a minute", lu)
		}
		c.advance(31 * time.Second)
		mustAuth()
		if lu := lastUsed(); !lu.Equal(c.t) {
			t.Errorf("last_used_at = %v after a minute, want %v", lu, c.t)
		}
	})
}

func TestRevokeAndList(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := serviceAt(db, c)
		a, _, err := s.Create(ctx, "a", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		b, secretB, err := s.Create(ctx, "b", Admin)
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
			t.Fatalf("List = %+v, want b then a (newest first)", list)
		}
		if list[0].SecretHash == "" || strings.Contains(list[0].SecretHash, strings.Split(secretB, "_")[2]) {
			t.Errorf("listed hash %q", list[0].SecretHash)
		}

		c.advance(time.Minute)
		revokedAt := c.t
		r, err := s.Revoke(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.RevokedAt == nil || !r.RevokedAt.Equal(revokedAt) {
			t.Fatalf("RevokedAt = %v, want %v", r.RevokedAt, revokedAt)
		}
		c.advance(time.Hour)
		again, err := s.Revoke(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !again.RevokedAt.Equal(revokedAt) {
			t.Errorf("second revoke moved RevokedAt to %v; the first time should stay", again.RevokedAt)
		}
		if _, err := s.Authenticate(ctx, secretB); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("revoked token: Authenticate err = %v", err)
		}
		list, err = s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].RevokedAt == nil || list[1].RevokedAt != nil {
			t.Errorf("List after revoke = %+v: want both, b revoked", list)
		}

		_, err = s.Revoke(ctx, "nope")
		if ae := wantCode(t, err, apperr.NotFound); !strings.Contains(ae.Message, `"nope"`) {
			t.Errorf("message %q does not name the id", ae.Message)
		}
	})
}

func TestBootstrap(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewService(db.DB, false)
		secret, err := s.Bootstrap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Authenticate(ctx, secret)
		if err != nil || p.Role != Admin || p.TokenName != "bootstrap-admin" {
			t.Fatalf("bootstrap token authenticates as %+v, %v; want the ADMIN bootstrap-admin", p, err)
		}
		again, err := s.Bootstrap(ctx)
		if err != nil || again != "" {
			t.Fatalf("second Bootstrap = %q, %v; want nothing created", again, err)
		}
		list, _ := s.List(ctx)
		if len(list) != 1 {
			t.Fatalf("%d tokens after two bootstraps, want 1", len(list))
		}
		// With every token revoked nobody can get in: bootstrap again.
		if _, err := s.Revoke(ctx, p.TokenID); err != nil {
			t.Fatal(err)
		}
		third, err := s.Bootstrap(ctx)
		if err != nil || third == "" {
			t.Fatalf("Bootstrap with only revoked tokens = %q, %v; want a new token", third, err)
		}
	})
}

func TestBootstrapSkipsWhenAnyTokenExists(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	s := NewService(db.DB, false)
	if _, _, err := s.Create(context.Background(), "viewer", Viewer); err != nil {
		t.Fatal(err)
	}
	if secret, err := s.Bootstrap(context.Background()); err != nil || secret != "" {
		t.Errorf("Bootstrap = %q, %v; want nothing, a token exists", secret, err)
	}
}

func TestDatabaseDown(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	s := NewService(db.DB, false)
	ctx := context.Background()
	_, secret, err := s.Create(ctx, "x", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	_, err = s.Authenticate(ctx, secret)
	if ae := wantCode(t, err, apperr.Unavailable); !ae.Retryable {
		t.Error("a database failure while checking a token should be retryable")
	}
	if _, _, err := s.Create(ctx, "y", Viewer); err == nil || apperr.CodeOf(err) != apperr.Internal {
		t.Errorf("Create on a closed database: %v", err)
	}
	if _, err := s.List(ctx); err == nil {
		t.Error("List on a closed database succeeded")
	}
	if _, err := s.Revoke(ctx, "x"); err == nil || apperr.CodeOf(err) == apperr.NotFound {
		t.Errorf("Revoke on a closed database: %v, want a failure that is not NOT_FOUND", err)
	}
	if _, err := s.Bootstrap(ctx); err == nil {
		t.Error("Bootstrap on a closed database succeeded")
	}
}

func TestRoles(t *testing.T) {
	for _, name := range []string{"VIEWER", "OPERATOR", "ADMIN"} {
		if r, err := ParseRole(name); err != nil || string(r) != name {
			t.Errorf("ParseRole(%q) = %q, %v", name, r, err)
		}
	}
	for _, bad := range []string{"", "admin", "ROOT"} {
		if _, err := ParseRole(bad); err == nil || !strings.Contains(err.Error(), "use VIEWER, OPERATOR or ADMIN") {
			t.Errorf("ParseRole(%q) err = %v, want it to list the roles", bad, err)
		}
	}
	tests := []struct {
		have, need Role
		ok         bool
	}{
		{Admin, Admin, true}, {Admin, Operator, true}, {Admin, Viewer, true},
		{Operator, Admin, false}, {Operator, Operator, true}, {Operator, Viewer, true},
		{Viewer, Admin, false}, {Viewer, Operator, false}, {Viewer, Viewer, true},
		{Role(""), Viewer, false}, {Role("ROOT"), Viewer, false}, {Role(""), Role(""), false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.ok {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.ok)
		}
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Error("empty context has a principal")
	}
	if err := ErrorFromContext(ctx); err != nil {
		t.Errorf("empty context has error %v", err)
	}
	p := Principal{TokenID: "id", Role: Viewer}
	if got, ok := FromContext(WithPrincipal(ctx, p)); !ok || got != p {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
	e := errors.New("bad")
	if got := ErrorFromContext(WithError(ctx, e)); got != e {
		t.Errorf("ErrorFromContext = %v", got)
	}
}

// probe records what the middleware put in the request context.
type probe struct {
	p   Principal
	ok  bool
	err error
}

func (pr *probe) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr.p, pr.ok = FromContext(r.Context())
		pr.err = ErrorFromContext(r.Context())
	})
}

func TestMiddleware(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewService(db.DB, false)
		tok, secret, err := s.Create(ctx, "ops", Operator)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, header string
			ok           bool
			errContains  string
		}{
			{"no header", "", false, ""},
			{"blank header", "   ", false, ""},
			{"good token", "Bearer " + secret, true, ""},
			{"good token without Bearer", secret, true, ""},
			{"malformed", "Bearer nope", false, "malformed"},
			{"unknown", "Bearer wag_ffffffffffff_ff", false, "not valid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var pr probe
				req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				s.Middleware(pr.handler()).ServeHTTP(httptest.NewRecorder(), req)
				if pr.ok != tt.ok {
					t.Fatalf("principal present = %v, want %v", pr.ok, tt.ok)
				}
				if tt.ok && (pr.p.TokenID != tok.ID || pr.p.Role != Operator) {
					t.Errorf("principal = %+v", pr.p)
				}
				switch {
				case tt.errContains == "" && pr.err != nil:
					t.Errorf("recorded error %v, want none", pr.err)
				case tt.errContains != "" && (pr.err == nil || !strings.Contains(pr.err.Error(), tt.errContains)):
					t.Errorf("recorded error %v, want one saying %q", pr.err, tt.errContains)
				}
			})
		}
	})
}

func TestAuthenticateInit(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewService(db.DB, false)
		tok, secret, err := s.Create(ctx, "ws", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		fromHeader := WithPrincipal(ctx, Principal{TokenID: "from-header", Role: Admin})
		tests := []struct {
			name    string
			ctx     context.Context
			payload map[string]any
			wantID  string // "" means refused
			message string
		}{
			{"Authorization with Bearer", ctx, map[string]any{"Authorization": "Bearer " + secret}, tok.ID, ""},
			{"Authorization without Bearer", ctx, map[string]any{"Authorization": secret}, tok.ID, ""},
			{"lower-case authorization", ctx, map[string]any{"authorization": "Bearer " + secret}, tok.ID, ""},
			{"authToken", ctx, map[string]any{"authToken": secret}, tok.ID, ""},
			{"authToken with Bearer", ctx, map[string]any{"authToken": "Bearer " + secret}, tok.ID, ""},
			{"blank Authorization falls through to authToken", ctx, map[string]any{"Authorization": " ", "authToken": secret}, tok.ID, ""},
			{"payload wins over the upgrade header", fromHeader, map[string]any{"Authorization": secret}, tok.ID, ""},
			{"upgrade header counts when the payload has none", fromHeader, nil, "from-header", ""},
			{"nothing", ctx, nil, "", "no API token was sent"},
			{"non-string token", ctx, map[string]any{"Authorization": 42}, "", "no API token was sent"},
			{"bad token", ctx, map[string]any{"Authorization": "Bearer wag_x_y"}, "", "not valid"},
			{"bad token despite a good header", fromHeader, map[string]any{"authToken": "junk"}, "", "malformed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.AuthenticateInit(tt.ctx, tt.payload)
				if tt.wantID == "" {
					ae := wantCode(t, err, apperr.Unauthenticated)
					if !strings.Contains(ae.Message, tt.message) {
						t.Errorf("message %q, want %q", ae.Message, tt.message)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				p, ok := FromContext(got)
				if !ok || p.TokenID != tt.wantID {
					t.Errorf("principal = %+v (%v), want token %s", p, ok, tt.wantID)
				}
			})
		}
	})
}

func TestDisabled(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	s := NewService(db.DB, true)
	if !s.Disabled() || NewService(db.DB, false).Disabled() {
		t.Fatal("Disabled() does not report the setting")
	}
	ctx := context.Background()
	want := Principal{Role: Admin, AuthDisabled: true}
	for _, bearer := range []string{"", "junk", "Bearer wag_x_y"} {
		if p, err := s.Authenticate(ctx, bearer); err != nil || p != want {
			t.Errorf("disabled Authenticate(%q) = %+v, %v; want ADMIN", bearer, p, err)
		}
	}
	var pr probe
	s.Middleware(pr.handler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !pr.ok || pr.p != want {
		t.Errorf("disabled middleware principal = %+v (%v), want ADMIN", pr.p, pr.ok)
	}
	wsCtx, err := s.AuthenticateInit(ctx, nil)
	if p, ok := FromContext(wsCtx); err != nil || !ok || p != want {
		t.Errorf("disabled AuthenticateInit = %+v, %v", p, err)
	}
}
