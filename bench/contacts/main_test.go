package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
)

// The benchmark's parts, small: the generated file's counts are what the
// import reports on both databases, the floor imports the same distinct
// numbers, and the query report has a line per filter.
func TestBenchmarkParts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "contacts.csv")
	gen, err := generateCSV(file, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if gen.invalid != 30 || gen.duplicates < 1100 || gen.distinct+gen.duplicates+gen.invalid != 3000 {
		t.Fatalf("generated %+v", gen)
	}
	lite, err := newSQLite(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pgURL := testenv.PostgresURL(t)
	pg := storetest.Open(t, "postgres")
	for _, c := range []struct {
		name string
		res  func() (*importResult, error)
	}{
		{"sqlite", func() (*importResult, error) { return importFile(ctx, lite, file) }},
		{"postgres", func() (*importResult, error) { return importFile(ctx, pg, file) }},
	} {
		res, err := c.res()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r := res.report; r.Created != gen.distinct || r.Duplicates != gen.duplicates || r.Invalid != gen.invalid || r.RowsRead != 3000 {
			t.Fatalf("%s report %+v, want %+v", c.name, r, gen)
		}
	}
	floor, err := floorImport(ctx, pgURL, file)
	if err != nil {
		t.Fatal(err)
	}
	if floor.contacts != gen.distinct {
		t.Fatalf("floor made %d contacts, want %d", floor.contacts, gen.distinct)
	}
	var out strings.Builder
	if _, err := measureQueries(ctx, pg, options{Contacts: 5000, Queries: 2}, &out); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 2+16+2 {
		t.Fatalf("query report has %d lines:\n%s", lines, out.String())
	}
}
