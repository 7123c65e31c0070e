package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"github.com/riverqueue/river/rivermigrate"
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
// binary knows: wagraph's own and River's (named river_NNN_name).
type SchemaStatus struct {
	// Pending are known migrations not yet applied.
	Pending []string
	// Unknown are applied migrations this binary does not know: the schema is
	// newer than the code.
	Unknown []string
}

// Current reports whether the schema matches this binary exactly.
func (s SchemaStatus) Current() bool { return len(s.Pending) == 0 && len(s.Unknown) == 0 }

// migrationsTable is where bun's migrator records wagraph's applied
// migrations. bun's lock table is not used: see lockMigrations.
const migrationsTable = "bun_migrations"

// migrationSet is everything Migrate applies: wagraph's embedded SQL files
// through bun's migrator, then River's own migrations through rivermigrate.
type migrationSet struct {
	app     *migrate.Migrator
	files   *migrate.Migrations
	fsys    fs.FS
	upFiles map[string]string // migration name -> its .up.sql file
	river   *rivermigrate.Migrator[*sql.Tx]
}

func (db *DB) migrationSet(files fs.FS) (*migrationSet, error) {
	if files != migrations.FS {
		return db.newMigrationSet(files)
	}
	// The embedded set is read once: readiness checks ask for it every few
	// seconds.
	db.embedded.once.Do(func() { db.embedded.set, db.embedded.err = db.newMigrationSet(files) })
	return db.embedded.set, db.embedded.err
}

func (db *DB) newMigrationSet(files fs.FS) (*migrationSet, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	upFiles, err := upFilesOf(files)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	river, err := rivermigrate.New(db.RiverDriver(), &rivermigrate.Config{
		// What was applied is logged by the caller, once, with wagraph's own.
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("store: River migrations: %w", err)
	}
	return &migrationSet{
		// bun's migrator only reads what was applied: applyAppMigrations
		// runs them, each in a transaction with its record.
		app:     migrate.NewMigrator(db.DB, ms, migrate.WithTableName(migrationsTable)),
		files:   ms,
		fsys:    files,
		upFiles: upFiles,
		river:   river,
	}, nil
}

// Migrate applies every pending migration, wagraph's and River's, and returns
// the names it applied. When nothing is pending it takes no lock at all;
// otherwise it takes the migration lock (see lockMigrations), which dies with
// its holder, and waits for it up to ctx, logging who holds it.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return db.migrate(ctx, migrations.FS)
}

func (db *DB) migrate(ctx context.Context, files fs.FS) ([]string, error) {
	set, err := db.migrationSet(files)
	if err != nil {
		return nil, err
	}
	status, err := db.schemaStatus(ctx, set)
	if err != nil {
		return nil, err
	}
	if len(status.Unknown) > 0 {
		return nil, schemaTooNew(status)
	}
	if len(status.Pending) == 0 {
		return nil, nil
	}

	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Whoever held the lock before may have applied some or all of them.
	if status, err = db.schemaStatus(ctx, set); err != nil {
		return nil, err
	}
	if len(status.Unknown) > 0 {
		return nil, schemaTooNew(status)
	}

	if _, err := db.NewCreateTable().Model((*migrate.Migration)(nil)).
		ModelTableExpr(migrationsTable).IfNotExists().Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", migrationsTable, err)
	}
	applied, err := db.applyAppMigrations(ctx, set)
	if err != nil {
		return applied, err
	}
	res, err := set.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return applied, fmt.Errorf("store: migrate River's tables: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, riverMigrationName(v.Version, v.Name))
	}
	return applied, nil
}

func riverMigrationName(version int, name string) string {
	if name == "" {
		return fmt.Sprintf("river_%03d", version)
	}
	return fmt.Sprintf("river_%03d_%s", version, strings.ReplaceAll(name, " ", "_"))
}

// SchemaStatus compares applied migrations with the ones this binary knows.
func (db *DB) SchemaStatus(ctx context.Context) (SchemaStatus, error) {
	return db.schemaStatusOf(ctx, migrations.FS)
}

func (db *DB) schemaStatusOf(ctx context.Context, files fs.FS) (SchemaStatus, error) {
	set, err := db.migrationSet(files)
	if err != nil {
		return SchemaStatus{}, err
	}
	return db.schemaStatus(ctx, set)
}

func (db *DB) schemaStatus(ctx context.Context, set *migrationSet) (SchemaStatus, error) {
	var st SchemaStatus
	if err := db.appSchemaStatus(ctx, set, &st); err != nil {
		return st, err
	}
	if err := db.riverSchemaStatus(ctx, set, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (db *DB) appSchemaStatus(ctx context.Context, set *migrationSet, st *SchemaStatus) error {
	applied, err := set.app.AppliedMigrations(ctx)
	if err != nil {
		if !IsMissingTable(err) {
			return fmt.Errorf("store: read applied migrations: %w", err)
		}
		applied = nil
	}
	done := map[string]bool{}
	for _, a := range applied {
		done[a.Name] = true
	}
	known := map[string]bool{}
	for _, k := range set.files.Sorted() {
		known[k.Name] = true
		if !done[k.Name] {
			st.Pending = append(st.Pending, k.Name+"_"+k.Comment)
		}
	}
	for _, a := range applied {
		if !known[a.Name] {
			st.Unknown = append(st.Unknown, a.Name+"_"+a.Comment)
		}
	}
	slices.Sort(st.Unknown)
	return nil
}

// riverSchemaStatus reads river_migration itself rather than through
// rivermigrate, which fails outright on a version it does not know instead
// of saying the schema is newer.
func (db *DB) riverSchemaStatus(ctx context.Context, set *migrationSet, st *SchemaStatus) error {
	var versions []int
	err := db.NewRaw("SELECT version FROM river_migration WHERE line = 'main' ORDER BY version").Scan(ctx, &versions)
	if err != nil && !IsMissingTable(err) {
		// River's first migrations had no line column; every row was main.
		versions = nil
		err = db.NewRaw("SELECT version FROM river_migration ORDER BY version").Scan(ctx, &versions)
	}
	if err != nil && !IsMissingTable(err) {
		return fmt.Errorf("store: read River's applied migrations: %w", err)
	}
	done := map[int]bool{}
	for _, v := range versions {
		done[v] = true
	}
	known := map[int]bool{}
	for _, m := range set.river.AllVersions() {
		known[m.Version] = true
		if !done[m.Version] {
			st.Pending = append(st.Pending, riverMigrationName(m.Version, m.Name))
		}
	}
	for _, v := range versions {
		if !known[v] {
			st.Unknown = append(st.Unknown, riverMigrationName(v, ""))
		}
	}
	return nil
}

// CheckSchema returns a coded error unless the schema is exactly current:
// SCHEMA_TOO_NEW when a newer wagraph migrated it, SCHEMA_NOT_MIGRATED when
// migrations (wagraph's or River's) are pending.
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
