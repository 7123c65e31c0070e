// Package migrations holds wagraph's ordered SQL migrations, embedded into the
// binary. Files are named <timestamp>_<name>.up.sql (and .down.sql); each is a
// text/template rendered with store.TemplateData, so one file can say
// {{if .Postgres}}…{{else}}…{{end}} where the SQLite and Postgres dialects differ.
// Each migration runs in one transaction together with its record in
// bun_migrations (internal/store), so a process killed mid-migration leaves
// it applied or not at all; a migration must not hold statements that cannot
// run in a transaction (e.g. CREATE INDEX CONCURRENTLY).
// whatsmeow keeps its own tables and upgrades them itself.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
