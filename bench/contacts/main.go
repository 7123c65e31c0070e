// Command contacts measures the contact base at scale (issue 11):
//
//   - the job-backed CSV import of a generated file (-rows rows, 40%
//     duplicates, 1% invalid) into Postgres, next to the floor it is judged
//     against in the same run: psql's \copy of the same file into a staging
//     table plus one INSERT … SELECT … ON CONFLICT into mkt_wap_contacts;
//     and the same import on SQLite; rows per second and the peak RSS of
//     the process during each import;
//
//   - with -contacts contacts in Postgres, the contacts query (first 100
//     with totalCount) under each filter and search, first page and a deep
//     page, p50 and p99;
//
//   - the CSV export's streaming rate.
//
//     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres go run ./bench/contacts
//     go run ./bench/contacts -pg postgres://… -rows 100000 -contacts 200000 -sqlite=false
//     go run ./bench/contacts -skip-import -contacts 200000 -queries 100
//
// It creates (and drops) databases of its own on the -pg server. The exit
// status is 1 when the Postgres import makes fewer than half the floor's
// rows per second, its peak RSS exceeds 300 MB, or the persona filter's
// p99 is over 50 ms.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"time"

	"wagraph/internal/store"
)

func main() {
	o := options{}
	flag.StringVar(&o.PostgresURL, "pg", os.Getenv("TEST_DATABASE_URL"), "Postgres server URL (a user that may create databases)")
	flag.IntVar(&o.Rows, "rows", 1_000_000, "rows of the generated CSV file")
	flag.IntVar(&o.Contacts, "contacts", 1_000_000, "contacts in Postgres for the query and export measurements")
	flag.IntVar(&o.Queries, "queries", 200, "runs of each contacts query")
	flag.BoolVar(&o.SQLite, "sqlite", true, "also import the file into SQLite")
	flag.BoolVar(&o.Postgres, "postgres", true, "measure Postgres (floor, import, queries, export); false: SQLite only")
	flag.StringVar(&o.QueriesOn, "queries-on", "", "only measure the queries and export, on this existing database (e.g. one kept with -keep)")
	flag.BoolVar(&o.SkipImport, "skip-import", false, "measure only the queries and export, on a new database seeded with -contacts contacts (no CSV file, floor or imports)")
	flag.BoolVar(&o.ImportOnly, "import-only", false, "measure only the floor and the imports (no queries or export)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the Postgres database of the queries (its URL is printed), to look at query plans")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "contacts:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type options struct {
	PostgresURL string
	Rows        int
	Contacts    int
	Queries     int
	SQLite      bool
	Postgres    bool
	Keep        bool
	QueriesOn   string
	SkipImport  bool
	ImportOnly  bool
}

func run(ctx context.Context, o options, w io.Writer) error {
	if o.QueriesOn != "" {
		db, err := store.Open(ctx, o.QueriesOn, store.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		failures, err := measureQueries(ctx, db, o, w)
		if err == nil && len(failures) > 0 {
			err = fmt.Errorf("targets missed: %v", failures)
		}
		return err
	}
	if o.PostgresURL == "" && (o.Postgres || o.SkipImport) {
		return fmt.Errorf("give a Postgres server with -pg or TEST_DATABASE_URL")
	}
	if o.SkipImport {
		return queriesOnly(ctx, o, w)
	}
	dir, err := os.MkdirTemp("", "wagraph-bench-contacts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "contacts.csv")
	gen, err := generateCSV(file, o.Rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "file: %d rows (%d distinct numbers, %d duplicates, %d invalid), %.1f MB\n",
		o.Rows, gen.distinct, gen.duplicates, gen.invalid, float64(gen.bytes)/1e6)

	var failures []string
	if !o.Postgres {
		return importSQLite(ctx, dir, file, o.Rows, w)
	}
	floor, err := floorImport(ctx, o.PostgresURL, file)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	fmt.Fprintf(w, "floor   postgres  psql \\copy + INSERT … ON CONFLICT   %8.2fs  %9.0f rows/s  (%d contacts)\n",
		floor.took.Seconds(), float64(o.Rows)/floor.took.Seconds(), floor.contacts)

	pg, err := newPostgres(ctx, o.PostgresURL)
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintln(w, "keeping the database:", pg.url)
	} else {
		defer pg.drop()
	}
	res, err := importFile(ctx, pg.db, file)
	if err != nil {
		return fmt.Errorf("postgres import: %w", err)
	}
	printImport(w, "postgres", o.Rows, res)
	if res.report.Created != gen.distinct || res.report.Invalid != gen.invalid || res.report.Duplicates != gen.duplicates {
		failures = append(failures, fmt.Sprintf("postgres report %+v does not match the file", res.report))
	}
	ratio := floor.took.Seconds() / res.run.Seconds()
	fmt.Fprintf(w, "        postgres import / floor: %.2f (target ≥ 0.5); peak RSS %.0f MB (target < 300)\n", ratio, res.peakMB)
	if ratio < 0.5 {
		failures = append(failures, fmt.Sprintf("postgres import at %.2f of the floor", ratio))
	}
	if res.peakMB >= 300 {
		failures = append(failures, fmt.Sprintf("peak RSS %.0f MB", res.peakMB))
	}
	again, err := importFile(ctx, pg.db, file)
	if err != nil {
		return fmt.Errorf("postgres re-import: %w", err)
	}
	printImport(w, "postgres (same file again)", o.Rows, again)
	if again.report.Created != 0 || again.report.Updated != 0 {
		failures = append(failures, "re-import changed contacts")
	}

	if o.SQLite {
		if err := importSQLite(ctx, dir, file, o.Rows, w); err != nil {
			return err
		}
	}

	if !o.ImportOnly {
		q, err := measureQueries(ctx, pg.db, o, w)
		if err != nil {
			return fmt.Errorf("queries: %w", err)
		}
		failures = append(failures, q...)
	}
	return verdict(w, failures)
}

// queriesOnly measures the queries and export on a new database, skipping
// the file and the imports (the queries' part of the benchmark seeds its
// contacts in SQL anyway).
func queriesOnly(ctx context.Context, o options, w io.Writer) error {
	pg, err := newPostgres(ctx, o.PostgresURL)
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintln(w, "keeping the database:", pg.url)
	} else {
		defer pg.drop()
	}
	failures, err := measureQueries(ctx, pg.db, o, w)
	if err != nil {
		return fmt.Errorf("queries: %w", err)
	}
	return verdict(w, failures)
}

func importSQLite(ctx context.Context, dir, file string, rows int, w io.Writer) error {
	lite, err := newSQLite(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer lite.Close()
	res, err := importFile(ctx, lite, file)
	if err != nil {
		return fmt.Errorf("sqlite import: %w", err)
	}
	printImport(w, "sqlite", rows, res)
	return nil
}

func printImport(w io.Writer, name string, rows int, r *importResult) {
	rep := r.report
	fmt.Fprintf(w, "import  %-26s upload %6.2fs, import %8.2fs  %9.0f rows/s  peak RSS %4.0f MB  created %d updated %d unchanged %d dups %d invalid %d\n",
		name, r.upload.Seconds(), r.run.Seconds(), float64(rows)/r.run.Seconds(), r.peakMB,
		rep.Created, rep.Updated, rep.Unchanged, rep.Duplicates, rep.Invalid)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// verdict prints the missed targets, or that all were met; an error when
// any was missed.
func verdict(w io.Writer, failures []string) error {
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Fprintln(w, "FAIL:", f)
		}
		return fmt.Errorf("%d targets missed", len(failures))
	}
	fmt.Fprintln(w, "all targets met")
	return nil
}
