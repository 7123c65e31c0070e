package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/migrations"
)

// mergeFS returns the embedded migrations plus extra.
func mergeFS(t *testing.T, extra fstest.MapFS) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		out[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.OpenEmpty(t, d)
			if err := db.CheckSchema(ctx); apperr.CodeOf(err) != apperr.SchemaNotMigrated {
				t.Fatalf("unmigrated database: CheckSchema = %v, want SCHEMA_NOT_MIGRATED", err)
			}
			first, err := db.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) == 0 {
				t.Fatal("first Migrate applied nothing")
			}
			second, err := db.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(second) != 0 {
				t.Fatalf("second Migrate applied %v, want nothing", second)
			}
			if err := db.CheckSchema(ctx); err != nil {
				t.Fatalf("CheckSchema after migrate: %v", err)
			}
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d)
			future := fstest.MapFS{
				"29991231000000_from_the_future.up.sql": {Data: []byte("CREATE TABLE future_things (id TEXT PRIMARY KEY)")},
			}
			if _, err := store.MigrateFS(ctx, db, mergeFS(t, future)); err != nil {
				t.Fatalf("apply future migration: %v", err)
			}
			err := db.CheckSchema(ctx)
			if apperr.CodeOf(err) != apperr.SchemaTooNew {
				t.Fatalf("CheckSchema = %v, want SCHEMA_TOO_NEW", err)
			}
			if _, err := db.Migrate(ctx); apperr.CodeOf(err) != apperr.SchemaTooNew {
				t.Fatalf("Migrate on newer schema = %v, want SCHEMA_TOO_NEW", err)
			}
		})
	}
}

func TestInTxRollsBack(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) VALUES ('t1','n','ADMIN','h',CURRENT_TIMESTAMP)"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		n, err := db.NewSelect().Table("api_tokens").Count(ctx)
		if err != nil || n != 0 {
			t.Fatalf("rows after rollback = %d, %v; want 0", n, err)
		}
	})
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	if _, err := store.Open(context.Background(), "sqlite:", store.Options{}); err == nil {
		t.Fatal("Open(sqlite:) succeeded, want an error naming the problem")
	}
}

// River's tables are part of wagraph's schema: migrated with it, checked by
// CheckSchema, and covered by the "schema too new" refusal.
func TestRiverMigrations(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if n, err := db.NewSelect().Table("river_job").Count(ctx); err != nil || n != 0 {
			t.Fatalf("river_job after Migrate: %d rows, %v", n, err)
		}
		var last int
		if err := db.NewRaw("SELECT max(version) FROM river_migration").Scan(ctx, &last); err != nil {
			t.Fatal(err)
		}

		if _, err := db.ExecContext(ctx, "DELETE FROM river_migration WHERE version = ?", last); err != nil {
			t.Fatal(err)
		}
		err := db.CheckSchema(ctx)
		if apperr.CodeOf(err) != apperr.SchemaNotMigrated || !strings.Contains(err.Error(), fmt.Sprintf("river_%03d", last)) {
			t.Fatalf("CheckSchema with River's last migration unrecorded = %v, want SCHEMA_NOT_MIGRATED naming river_%03d", err, last)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO river_migration (line, version) VALUES ('main', ?)", last); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}

		if _, err := db.ExecContext(ctx, "INSERT INTO river_migration (line, version) VALUES ('main', 999)"); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); apperr.CodeOf(err) != apperr.SchemaTooNew || !strings.Contains(err.Error(), "river_999") {
			t.Fatalf("CheckSchema with River migration 999 = %v, want SCHEMA_TOO_NEW naming river_999", err)
		}
		if _, err := db.Migrate(ctx); apperr.CodeOf(err) != apperr.SchemaTooNew {
			t.Fatalf("Migrate with River migration 999 = %v, want SCHEMA_TOO_NEW", err)
		}
	})
}

func TestErrorClassification(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "SELECT * FROM no_such_things")
		if !store.IsMissingTable(err) || store.IsUniqueViolation(err) {
			t.Fatalf("missing table error %v: IsMissingTable %v, IsUniqueViolation %v", err, store.IsMissingTable(err), store.IsUniqueViolation(err))
		}
		insert := "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) VALUES ('dup','n','ADMIN','h',CURRENT_TIMESTAMP)"
		if _, err := db.ExecContext(ctx, insert); err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, insert)
		if !store.IsUniqueViolation(err) || store.IsMissingTable(err) {
			t.Fatalf("duplicate key error %v: IsUniqueViolation %v, IsMissingTable %v", err, store.IsUniqueViolation(err), store.IsMissingTable(err))
		}
	})
}

// A migration that fails (or whose process is killed) part-way leaves
// nothing behind: its statements and its record commit together, so the
// next run applies it from the start instead of failing on what the first
// run had already created.
func TestFailedMigrationLeavesNothingBehind(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.OpenEmpty(t, d)
			const name = "29990101000000_half_done.up.sql"
			broken := fstest.MapFS{name: {Data: []byte("CREATE TABLE half_done (id TEXT PRIMARY KEY);\n--bun:split\nTHIS IS NOT SQL;\n")}}
			if _, err := store.MigrateFS(ctx, db, mergeFS(t, broken)); err == nil {
				t.Fatal("Migrate with a broken migration succeeded")
			}
			if _, err := db.ExecContext(ctx, "SELECT 1 FROM half_done"); !store.IsMissingTable(err) {
				t.Fatalf("the failed migration's first statement stayed applied (err %v)", err)
			}
			fixed := fstest.MapFS{name: {Data: []byte("CREATE TABLE half_done (id TEXT PRIMARY KEY);\n--bun:split\nCREATE INDEX half_done_idx ON half_done (id);\n")}}
			applied, err := store.MigrateFS(ctx, db, mergeFS(t, fixed))
			if err != nil {
				t.Fatalf("Migrate after fixing the migration: %v", err)
			}
			if !slices.Contains(applied, "29990101000000_half_done") {
				t.Fatalf("applied %v, want the fixed migration among them", applied)
			}
		})
	}
}
