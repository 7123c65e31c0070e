package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uptrace/bun"
)

// bun writes a query's values into its text, so the same query with other
// values is a new text each time: SQLite parses it again (the statement
// cache, sqlite_stmtcache.go, keeps only queries with arguments) and pgx
// prepares it again. For the few queries every send runs, Get passes the
// values to the driver as arguments instead, so the text never changes
// and the driver reuses its prepared statement. Placeholders are $1, $2, …
// (both dialects take them). bun's query hooks (DB_DEBUG) do not see these
// queries; everything else keeps bun's builder, which reads better.

// queryer is what Get runs on: the database, a connection or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func sqlQueryer(conn bun.IDB) (queryer, error) {
	switch c := conn.(type) {
	case *DB:
		return c.DB.DB, nil
	case *bun.DB:
		return c.DB, nil
	case bun.Tx:
		return c.Tx, nil
	case *bun.Tx:
		return c.Tx, nil
	case bun.Conn:
		return c.Conn, nil
	}
	return nil, fmt.Errorf("store: Get through a %T: pass the database, a bun.Conn or a bun.Tx", conn)
}

// Get runs query on conn with args passed to the driver and scans the
// first row into dest as bun's Scan would (a model, or column values);
// sql.ErrNoRows when there is none.
func (db *DB) Get(ctx context.Context, conn bun.IDB, dest any, query string, args ...any) error {
	rows, err := queryArgs(ctx, conn, query, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := db.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	for rows.Next() { // as bun does: SQLite may report an error on a later row
	}
	return rows.Err()
}

// Select is Get for every row: dest points to a slice.
func (db *DB) Select(ctx context.Context, conn bun.IDB, dest any, query string, args ...any) error {
	rows, err := queryArgs(ctx, conn, query, args)
	if err != nil {
		return err
	}
	return db.ScanRows(ctx, rows, dest) // closes rows
}

// queryArgs runs query on conn's database/sql side, args to the driver.
func queryArgs(ctx context.Context, conn bun.IDB, query string, args []any) (*sql.Rows, error) {
	q, err := sqlQueryer(conn)
	if err != nil {
		return nil, err
	}
	return q.QueryContext(ctx, query, args...)
}
