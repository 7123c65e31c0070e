// Package storetest opens fresh, migrated databases for tests: a temporary
// SQLite file, or a new database on the Postgres named by TEST_DATABASE_URL
// (dropped when the test ends).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"wagraph/internal/store"
	"wagraph/internal/testenv"
)

// Dialects lists the dialects every database test should run against.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// Open returns a migrated database of the given dialect, closed at cleanup.
func Open(t testing.TB, dialect store.Dialect) *store.DB {
	t.Helper()
	db := OpenEmpty(t, dialect)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return db
}

// OpenEmpty returns an unmigrated database of the given dialect.
func OpenEmpty(t testing.TB, dialect store.Dialect) *store.DB {
	t.Helper()
	dbURL := URL(t, dialect)
	db, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// URL returns the URL of a fresh, empty database of the given dialect.
func URL(t testing.TB, dialect store.Dialect) string {
	t.Helper()
	if dialect == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}
	return freshPostgres(t)
}

// RunDialects runs fn once per dialect as a subtest with a migrated database.
func RunDialects(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) { fn(t, Open(t, d)) })
	}
}

func freshPostgres(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	admin, err := store.Open(ctx, base, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wagraph_t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}
