package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
)

// MigrateFS applies the migrations in files, for tests that need a schema the
// embedded set does not have.
func MigrateFS(ctx context.Context, db *DB, files fs.FS) ([]string, error) {
	return db.migrate(ctx, files)
}

// LockMigrations takes the migration lock as Migrate does.
func LockMigrations(ctx context.Context, db *DB) (unlock func(), err error) {
	return db.lockMigrations(ctx)
}

// StatementCache reports on the SQLite statement cache of conn's
// connection: how many statements it holds and how many it prepared. With
// size > 0 it first sets the cache's size.
func StatementCache(conn *sql.Conn, size int) (cached, prepared int, err error) {
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("the connection is a %T, not a caching one", dc)
		}
		if size > 0 {
			c.size = size
		}
		cached, prepared = c.lru.Len(), c.prepares
		return nil
	})
	return cached, prepared, err
}
