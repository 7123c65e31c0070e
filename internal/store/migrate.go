package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/uptrace/bun/migrate"

	"wagraph/internal/apperr"
	"wagraph/migrations"
)

// TemplateData is what every migration file is rendered with.
type TemplateData struct {
	Postgres bool
	SQLite   bool
}

// SchemaStatus says how the database's schema relates to the migrations this
// binary knows.
type SchemaStatus struct {
	// Pending are known migrations not yet applied.
	Pending []string
	// Unknown are applied migrations this binary does not know: the schema is
	// newer than the code.
	Unknown []string
}

// Current reports whether the schema matches this binary exactly.
func (s SchemaStatus) Current() bool { return len(s.Pending) == 0 && len(s.Unknown) == 0 }

func (db *DB) migrator(files fs.FS) (*migrate.Migrator, *migrate.Migrations, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return nil, nil, fmt.Errorf("store: read migrations: %w", err)
	}
	return migrate.NewMigrator(db.DB, ms,
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTemplateData(TemplateData{Postgres: db.Kind == Postgres, SQLite: db.Kind == SQLite}),
	), ms, nil
}

// Migrate applies every pending embedded migration under the migrator's lock
// and returns the names it applied. Another instance migrating at the same
// time makes it wait (up to ctx) rather than fail.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return db.migrate(ctx, migrations.FS)
}

func (db *DB) migrate(ctx context.Context, files fs.FS) ([]string, error) {
	m, ms, err := db.migrator(files)
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("store: init migration tables: %w", err)
	}
	if err := lockWithRetry(ctx, m); err != nil {
		return nil, err
	}
	defer func() { _ = m.Unlock(context.WithoutCancel(ctx)) }()

	status, err := db.schemaStatus(ctx, m, ms)
	if err != nil {
		return nil, err
	}
	if len(status.Unknown) > 0 {
		return nil, schemaTooNew(status)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	applied := make([]string, 0, len(group.Migrations))
	for _, mig := range group.Migrations {
		applied = append(applied, mig.Name+"_"+mig.Comment)
	}
	return applied, nil
}

func lockWithRetry(ctx context.Context, m *migrate.Migrator) error {
	wait := 50 * time.Millisecond
	for {
		err := m.Lock(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: waiting for the migration lock (another instance migrating, or a crashed one left bun_migration_locks set): %w", errors.Join(ctx.Err(), err))
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// SchemaStatus compares applied migrations with the embedded ones.
func (db *DB) SchemaStatus(ctx context.Context) (SchemaStatus, error) {
	return db.schemaStatusOf(ctx, migrations.FS)
}

func (db *DB) schemaStatusOf(ctx context.Context, files fs.FS) (SchemaStatus, error) {
	m, ms, err := db.migrator(files)
	if err != nil {
		return SchemaStatus{}, err
	}
	return db.schemaStatus(ctx, m, ms)
}

func (db *DB) schemaStatus(ctx context.Context, m *migrate.Migrator, ms *migrate.Migrations) (SchemaStatus, error) {
	var st SchemaStatus
	known, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		if isMissingTable(err) {
			for _, k := range ms.Sorted() {
				st.Pending = append(st.Pending, k.Name+"_"+k.Comment)
			}
			return st, nil
		}
		return st, fmt.Errorf("store: read applied migrations: %w", err)
	}
	for _, k := range known {
		if !k.IsApplied() {
			st.Pending = append(st.Pending, k.Name+"_"+k.Comment)
		}
	}
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return st, fmt.Errorf("store: read applied migrations: %w", err)
	}
	names := map[string]bool{}
	for _, k := range known {
		names[k.Name] = true
	}
	for _, a := range applied {
		if !names[a.Name] {
			st.Unknown = append(st.Unknown, a.Name+"_"+a.Comment)
		}
	}
	return st, nil
}

// CheckSchema returns a coded error unless the schema is exactly current:
// SCHEMA_TOO_NEW when a newer wagraph migrated it, SCHEMA_NOT_MIGRATED when
// migrations are pending.
func (db *DB) CheckSchema(ctx context.Context) error {
	st, err := db.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if len(st.Unknown) > 0 {
		return schemaTooNew(st)
	}
	if len(st.Pending) > 0 {
		return apperr.Newf(apperr.SchemaNotMigrated, "database schema is behind: %d migration(s) pending (%s)", len(st.Pending), strings.Join(st.Pending, ", "))
	}
	return nil
}

func schemaTooNew(st SchemaStatus) error {
	return apperr.Newf(apperr.SchemaTooNew, "database schema is newer than this wagraph: unknown migration(s) %s", strings.Join(st.Unknown, ", "))
}

func isMissingTable(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no such table") || strings.Contains(s, "does not exist")
}
