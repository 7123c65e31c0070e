package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"wagraph/internal/store"
)

// openSQLiteConn opens a fresh SQLite database with a table t(x unique)
// and pins one of its connections.
func openSQLiteConn(t *testing.T) (*store.DB, *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.ExecContext(ctx, "CREATE TABLE t (x INTEGER NOT NULL UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := conn.ExecContext(ctx, "INSERT INTO t (x) VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}
	return db, conn
}

func cacheState(t *testing.T, conn *sql.Conn) (cached, prepared int) {
	t.Helper()
	cached, prepared, err := store.StatementCache(conn, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cached, prepared
}

func sumAbove(t *testing.T, rows *sql.Rows) int {
	t.Helper()
	defer rows.Close()
	sum := 0
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		sum += x
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// A query with arguments is prepared once per connection and reused; one
// without (bun's, values written into the text) is not cached.
func TestSQLiteStatementCacheReuses(t *testing.T) {
	ctx := context.Background()
	_, conn := openSQLiteConn(t)
	_, before := cacheState(t, conn)
	for i := range 3 {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE x > ?", i).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 5-i {
			t.Fatalf("count above %d = %d, want %d", i, n, 5-i)
		}
	}
	if _, err := conn.ExecContext(ctx, "UPDATE t SET x = x WHERE x = 99"); err != nil {
		t.Fatal(err)
	}
	if _, prepared := cacheState(t, conn); prepared != before+1 {
		t.Fatalf("prepared %d statements for one query text run 3 times (and one without arguments), want 1", prepared-before)
	}
}

// Two reads of the same query open at once (inside a transaction) each
// get their own statement and read their own rows.
func TestSQLiteStatementCacheInterleavedRows(t *testing.T) {
	ctx := context.Background()
	_, conn := openSQLiteConn(t)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = "SELECT x FROM t WHERE x > ? ORDER BY x"
	first, err := tx.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Next() { // the statement is now mid-way through its rows
		t.Fatal("no first row")
	}
	second, err := tx.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sumAbove(t, second); got != 15 {
		t.Fatalf("second read summed %d, want 15", got)
	}
	var x int
	if err := first.Scan(&x); err != nil {
		t.Fatal(err)
	}
	if got := x + sumAbove(t, first); got != 9 {
		t.Fatalf("first read summed %d, want 9", got)
	}
	if got := sumAbove(t, mustQuery(t, tx, q, 4)); got != 5 {
		t.Fatalf("a third read summed %d, want 5", got)
	}
}

func mustQuery(t *testing.T, tx *sql.Tx, q string, args ...any) *sql.Rows {
	t.Helper()
	rows, err := tx.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A statement pushed out of a full cache while its rows are still read
// stays usable until they are closed.
func TestSQLiteStatementCacheEvictsBusy(t *testing.T) {
	ctx := context.Background()
	_, conn := openSQLiteConn(t)
	if _, _, err := store.StatementCache(conn, 1); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows := mustQuery(t, tx, "SELECT x FROM t WHERE x > ? ORDER BY x", 0)
	for i := range 3 { // other texts push it out
		if got := sumAbove(t, mustQuery(t, tx, "SELECT x FROM t WHERE x = ? + 0*"+string(rune('1'+i)), 2)); got != 2 {
			t.Fatalf("read %d summed %d, want 2", i, got)
		}
	}
	if got := sumAbove(t, rows); got != 15 {
		t.Fatalf("the evicted statement's rows summed %d, want 15", got)
	}
	if cached, _ := cacheState(t, conn); cached != 1 {
		t.Fatalf("%d statements cached, want 1 (the size)", cached)
	}
}

// A cached statement that failed (a unique violation) reports the error
// as before and works again afterwards.
func TestSQLiteStatementCacheAfterError(t *testing.T) {
	ctx := context.Background()
	_, conn := openSQLiteConn(t)
	const q = "INSERT INTO t (x) VALUES (?)"
	_, err := conn.ExecContext(ctx, q, 3)
	if !store.IsUniqueViolation(err) {
		t.Fatalf("inserting a duplicate: %v, want a unique violation", err)
	}
	if _, err := conn.ExecContext(ctx, q, 6); err != nil {
		t.Fatalf("the statement after its error: %v", err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE x >= ?", 1).Scan(&n); err != nil || n != 6 {
		t.Fatalf("count = %d, %v; want 6", n, err)
	}
}
