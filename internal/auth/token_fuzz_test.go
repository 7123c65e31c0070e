package auth

import (
	"context"
	"os"
	"strings"
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// tokenPlaceholder in a fuzzed bearer stands for a real token's secret, so
// the fuzzer can mutate around one that works.
const tokenPlaceholder = "$TOKEN"

// Bearer tokens come from anyone who can reach the server. Whatever is sent,
// Authenticate does not panic and either accepts exactly a token it issued,
// or refuses with UNAUTHENTICATED (never a database error: the database is
// up) without repeating the secret it was sent. testdata/fuzz keeps the
// ids with a NUL that once came back UNAVAILABLE from SQLite.
func FuzzAuthenticate(f *testing.F) {
	dialects := []store.Dialect{store.SQLite}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		dialects = append(dialects, store.Postgres) // its encoding rules differ
	}
	type fixture struct {
		dialect store.Dialect
		svc     *Service
		tok     *Token
		secret  string
	}
	var fixtures []fixture
	for _, d := range dialects {
		svc := NewService(storetest.Open(f, d).DB, false)
		tok, secret, err := svc.Create(context.Background(), "fuzz", Operator)
		if err != nil {
			f.Fatal(err)
		}
		fixtures = append(fixtures, fixture{d, svc, tok, secret})
	}
	for _, s := range []string{
		"$TOKEN",
		"Bearer $TOKEN",
		"bearer   $TOKEN  ",
		"BEARER $TOKEN",
		"Bearer $TOKEN$TOKEN",
		"Bearer\t$TOKEN",
		"Basic $TOKEN",
		"Bearer ",
		"Bearer",
		"",
		"wag__",
		"wag_x_y",
		"wag_000000000000_" + strings.Repeat("a", 64),
		"wag_\xff\xfe_" + strings.Repeat("a", 64),
		"wag_' OR '1'='1_x",
		"wag_\u202e00_x",
		"Bearer wag_" + strings.Repeat("9", 5000) + "_x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bearer string) {
		for _, fx := range fixtures {
			in := strings.ReplaceAll(bearer, tokenPlaceholder, fx.secret)
			p, err := fx.svc.Authenticate(context.Background(), in)
			if err == nil {
				if p.TokenID != fx.tok.ID || p.Role != Operator || !strings.Contains(in, fx.secret) {
					t.Fatalf("%s: %q authenticated as %+v", fx.dialect, in, p)
				}
				continue
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Unauthenticated {
				t.Fatalf("%s: %q refused with %v, want UNAUTHENTICATED", fx.dialect, in, err)
			}
			if parts := strings.SplitN(in, "_", 3); len(parts) == 3 && len(parts[2]) >= 8 && strings.Contains(ae.Message+ae.Suggestion, parts[2]) {
				t.Fatalf("%s: the refusal of %q repeats its secret: %v", fx.dialect, in, err)
			}
		}
	})
}
