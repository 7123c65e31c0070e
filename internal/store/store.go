// Package store opens wagraph's database (SQLite by default, Postgres when
// DATABASE_URL says so) through uptrace/bun, and runs the embedded migrations.
// Repositories elsewhere take bun.IDB so they work inside and outside RunInTx.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/extra/bundebug"
	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"
)

// Dialect names the database flavour, as whatsmeow's sqlstore spells it.
type Dialect string

const (
	SQLite   Dialect = "sqlite3"
	Postgres Dialect = "postgres"
)

// DB is an open database and which kind it is. It satisfies bun.IDB, so
// repositories can take it or a transaction alike.
type DB struct {
	*bun.DB
	// Kind says SQLite or Postgres; bun's own Dialect() method is promoted.
	Kind Dialect
}

// Options tune Open.
type Options struct {
	// Debug logs every query (bundebug); verbose, for development only.
	Debug bool
	// MaxOpenConns caps the pool; 0 picks a default per dialect.
	MaxOpenConns int
}

// Open connects to the database named by url: a postgres:// or postgresql://
// URL, or an SQLite file given as sqlite:PATH, file:PATH or a bare PATH.
// The SQLite file's directory is created if missing.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	var (
		db      *bun.DB
		dialect Dialect
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(rawURL)))
		sqldb.SetMaxOpenConns(poolSize(opts.MaxOpenConns, 20))
		db = bun.NewDB(sqldb, pgdialect.New())
		dialect = Postgres
	default:
		dsn, err := sqliteDSN(rawURL)
		if err != nil {
			return nil, err
		}
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		sqldb.SetMaxOpenConns(poolSize(opts.MaxOpenConns, 8))
		db = bun.NewDB(sqldb, sqlitedialect.New())
		dialect = SQLite
	}
	if opts.Debug {
		db.AddQueryHook(bundebug.NewQueryHook(bundebug.WithVerbose(true)))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connect to %s database: %w", dialect, err)
	}
	return &DB{DB: db, Kind: dialect}, nil
}

func poolSize(configured, def int) int {
	if configured > 0 {
		return configured
	}
	return def
}

// sqliteDSN turns a user-facing SQLite location into a modernc.org/sqlite DSN
// with WAL, a busy timeout, foreign keys and immediate write transactions (so
// concurrent writers queue on the busy timeout instead of failing to upgrade).
func sqliteDSN(raw string) (string, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite://"), "sqlite:")
	path = strings.TrimPrefix(path, "file:")
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if path == "" {
		return "", fmt.Errorf("store: DATABASE_URL %q names no SQLite file; use e.g. sqlite:./data/wagraph.db", raw)
	}
	memory := path == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("store: DATABASE_URL query %q: %w", query, err)
	}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode(), nil
}

// Ping checks the database answers, for readiness.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.NewRaw("SELECT 1").Scan(ctx, &one)
}

// InTx runs fn in a transaction, committing when it returns nil.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, nil, fn)
}
