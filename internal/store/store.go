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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
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

	log zerolog.Logger
	// file is the SQLite database file ("" for Postgres and in-memory
	// SQLite); the migration lock sits next to it.
	file string
	// embedded caches the migrations built into the binary.
	embedded *embeddedMigrations
}

type embeddedMigrations struct {
	once sync.Once
	set  *migrationSet
	err  error
}

// Options tune Open.
type Options struct {
	// Debug logs every query (bundebug); verbose, for development only.
	Debug bool
	// MaxOpenConns caps the pool; 0 picks a default per dialect.
	MaxOpenConns int
	// Logger receives what the store has to say on its own, such as who
	// holds the migration lock while Migrate waits for it.
	Logger zerolog.Logger
}

// Open connects to the database named by url: a postgres:// or postgresql://
// URL, or an SQLite file given as sqlite:PATH, file:PATH or a bare PATH.
// The SQLite file's directory is created if missing.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	var (
		db      *bun.DB
		dialect Dialect
		file    string
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		// pgx through database/sql: bun and River (riverdatabasesql) share
		// this one pool, and a *sql.Tx from bun.Tx is what River's InsertTx
		// takes, so a job commits or rolls back with the rows it works on.
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			return nil, fmt.Errorf("store: DATABASE_URL is not a valid Postgres URL: %w", err)
		}
		// After a lost connection, pooled ones are checked before use.
		ping := new(connWatch).watch(cfg)
		sqldb := sql.OpenDB(pgxConnector{stdlib.GetConnector(*cfg, ping)})
		keepPool(sqldb, poolSize(opts.MaxOpenConns, 20))
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
		dialect = Postgres
	default:
		dsn, path, err := sqliteDSN(rawURL)
		if err != nil {
			return nil, err
		}
		connector, err := newSQLiteConnector(dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		sqldb := sql.OpenDB(connector)
		keepPool(sqldb, poolSize(opts.MaxOpenConns, 8))
		db = bun.NewDB(sqldb, sqlitedialect.New())
		dialect = SQLite
		file = path
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
	return &DB{DB: db, Kind: dialect, log: opts.Logger, file: file, embedded: &embeddedMigrations{}}, nil
}

// keepPool caps the pool at n connections and keeps them all when idle.
// database/sql keeps only 2 idle by default: with more in use at once (the
// send workers, River), each one given back beyond 2 was closed and
// opened again for the next query, a new Postgres backend or a new SQLite
// connection (its schema parsed again, its cached statements lost); that
// was a sixth of the CPU of a send on SQLite (bench/messages). Postgres
// connections idle for 5 minutes are closed (SetConnMaxIdleTime).
func keepPool(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
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
// River (riversqlite) works on the same pool; with these settings its writes
// and the API's queue behind each other and no "database is locked" reaches
// a client (internal/app TestSQLiteNoBusyErrorsWithJobsRunning; without the
// busy timeout and immediate transactions, 42 of its 100 mutations failed).
// It also returns the file's path, "" for an in-memory database.
func sqliteDSN(raw string) (dsn, file string, err error) {
	path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite://"), "sqlite:")
	path = strings.TrimPrefix(path, "file:")
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if path == "" {
		return "", "", fmt.Errorf("store: DATABASE_URL %q names no SQLite file; use e.g. sqlite:./data/wagraph.db", raw)
	}
	memory := path == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", "", fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("store: DATABASE_URL query %q: %w", query, err)
	}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	q.Set("_time_format", "sqlite")
	if memory {
		return "file:" + path + "?" + q.Encode(), "", nil
	}
	return "file:" + path + "?" + q.Encode(), path, nil
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

// RiverDriver returns River's driver over this database's own pool, so River
// and bun share connections and transactions: a bun.Tx's *sql.Tx is what
// River's InsertTx takes.
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if db.Kind == Postgres {
		return riverdatabasesql.New(db.DB.DB)
	}
	return riversqlite.New(db.DB.DB)
}
