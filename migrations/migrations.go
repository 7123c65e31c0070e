// Package migrations holds wagraph's ordered SQL migrations, embedded into the
// binary. Files are named <timestamp>_<name>.up.sql (and .down.sql); each is a
// text/template rendered with store.TemplateData, so one file can say
// {{if .Postgres}}…{{else}}…{{end}} where the SQLite and Postgres dialects differ.
// whatsmeow keeps its own tables and upgrades them itself.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
