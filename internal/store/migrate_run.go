package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// applyAppMigrations applies wagraph's pending migrations in order, each in
// one transaction together with its bun_migrations row. A process killed
// mid-migration thus leaves a migration applied and recorded, or neither:
// bun's own runner executes a file outside a transaction and records it
// afterwards, so a kill in between left tables that the next start tried to
// create again ("relation already exists"). Every migration must therefore
// be transactional, which both Postgres and SQLite allow for DDL.
func (db *DB) applyAppMigrations(ctx context.Context, set *migrationSet) ([]string, error) {
	done, err := set.app.AppliedMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: read applied migrations: %w", err)
	}
	applied := map[string]bool{}
	for _, m := range done {
		applied[m.Name] = true
	}
	group := done.LastGroupID() + 1
	var names []string
	for _, m := range set.files.Sorted() {
		if applied[m.Name] {
			continue
		}
		queries, err := set.upQueries(m.Name, TemplateData{Postgres: db.Kind == Postgres, SQLite: db.Kind == SQLite})
		if err != nil {
			return names, err
		}
		record := &migrate.Migration{Name: m.Name, Comment: m.Comment, GroupID: group, MigratedAt: time.Now()}
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, q := range queries {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			_, err := tx.NewInsert().Model(record).ModelTableExpr(migrationsTable).Exec(ctx)
			return err
		})
		if err != nil {
			return names, fmt.Errorf("store: migration %s_%s: %w", m.Name, m.Comment, err)
		}
		names = append(names, m.Name+"_"+m.Comment)
	}
	return names, nil
}

// upQueries renders the up file of migration name and splits it into
// statements at --bun:split lines, as bun's own runner does.
func (s *migrationSet) upQueries(name string, data TemplateData) ([]string, error) {
	path, ok := s.upFiles[name]
	if !ok {
		return nil, fmt.Errorf("store: migration %s has no .up.sql file", name)
	}
	raw, err := fs.ReadFile(s.fsys, path)
	if err != nil {
		return nil, fmt.Errorf("store: read migration %s: %w", path, err)
	}
	tmpl, err := template.New(path).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("store: migration %s: %w", path, err)
	}
	var rendered bytes.Buffer
	if err := tmpl.Execute(&rendered, data); err != nil {
		return nil, fmt.Errorf("store: migration %s: %w", path, err)
	}
	var (
		queries []string
		query   strings.Builder
	)
	lines := bufio.NewScanner(&rendered)
	lines.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for lines.Scan() {
		line := lines.Text()
		if directive, ok := strings.CutPrefix(line, "--bun:"); ok {
			if strings.TrimSpace(directive) != "split" {
				return nil, fmt.Errorf("store: migration %s: unknown directive --bun:%s", path, directive)
			}
			if query.Len() > 0 {
				queries = append(queries, query.String())
				query.Reset()
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			query.WriteString(line)
			query.WriteByte('\n')
		}
	}
	if query.Len() > 0 {
		queries = append(queries, query.String())
	}
	return queries, lines.Err()
}

// upFilesOf maps each migration name (its timestamp) to its .up.sql file.
func upFilesOf(files fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".up.sql") {
			return err
		}
		base := path[strings.LastIndexByte(path, '/')+1:]
		name, _, _ := strings.Cut(base, "_")
		out[name] = path
		return nil
	})
	return out, err
}
