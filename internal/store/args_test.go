package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// Get and Select pass their arguments to the driver ($1, $2, … on both
// dialects), scan like bun (models, plain structs, single values), say
// sql.ErrNoRows for no row, and run in a transaction too.
func TestGetAndSelectWithArguments(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE args_test (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		if _, err := db.NewRaw("INSERT INTO args_test VALUES ('a', 1, ?), ('b', 2, ?), ('c', 3, NULL)", at, at).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		type row struct {
			ID string    `bun:"id"`
			N  int       `bun:"n"`
			At time.Time `bun:"at"`
		}
		var r row
		if err := db.Get(ctx, db, &r, "SELECT * FROM args_test WHERE id = $1 AND n = $2", "b", 2); err != nil || r.ID != "b" || !r.At.Equal(at) {
			t.Fatalf("Get = %+v, %v", r, err)
		}
		if err := db.Get(ctx, db, &r, "SELECT * FROM args_test WHERE id = $1", "zz"); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("Get of no row = %v, want sql.ErrNoRows", err)
		}
		var rows []row
		if err := db.Select(ctx, db, &rows, "SELECT * FROM args_test WHERE n >= $1 ORDER BY n", 2); err != nil || len(rows) != 2 || rows[1].ID != "c" {
			t.Fatalf("Select = %+v, %v", rows, err)
		}
		var exists bool
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var n int
			if err := db.Get(ctx, tx, &n, "UPDATE args_test SET n = n + $1 WHERE id = $2 RETURNING n", 10, "a"); err != nil || n != 11 {
				t.Errorf("UPDATE … RETURNING in a transaction = %d, %v", n, err)
			}
			return db.Get(ctx, tx, &exists, "SELECT EXISTS (SELECT 1 FROM args_test WHERE n = $1)", 11)
		})
		if err != nil || !exists {
			t.Fatalf("in a transaction: exists %v, %v", exists, err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := db.Get(ctx, conn, &exists, "SELECT EXISTS (SELECT 1 FROM args_test WHERE id = $1)", "a"); err != nil || !exists {
			t.Fatalf("on a connection: %v, %v", exists, err)
		}
	})
}
