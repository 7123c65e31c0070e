package store

import (
	"context"
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
