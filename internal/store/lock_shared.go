package store

import "context"

// WithMigrationLock runs fn holding the migration lock (see lockMigrations),
// for schema changes made outside Migrate: whatsmeow upgrades its own
// tables when an instance opens its device store, and instances started
// together on a fresh database must not create them at once.
func (db *DB) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(ctx)
}
