package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/contact"
	"wagraph/internal/store"
)

// scratch is a database of the run's own on the Postgres server.
type scratch struct {
	db    *store.DB
	url   string
	admin *store.DB
	name  string
}

func newPostgres(ctx context.Context, serverURL string) (*scratch, error) {
	admin, err := store.Open(ctx, serverURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		return nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wagraph_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return nil, err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	s := &scratch{url: u.String(), admin: admin, name: name}
	if s.db, err = store.Open(ctx, s.url, store.Options{}); err != nil {
		s.drop()
		return nil, err
	}
	if _, err := s.db.Migrate(ctx); err != nil {
		s.drop()
		return nil, err
	}
	return s, nil
}

func (s *scratch) drop() {
	if s.db != nil {
		_ = s.db.Close()
	}
	_, _ = s.admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+s.name+" WITH (FORCE)")
	_ = s.admin.Close()
}

func newSQLite(ctx context.Context, path string) (*store.DB, error) {
	db, err := store.Open(ctx, "sqlite:"+path, store.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

type floorResult struct {
	took     time.Duration
	contacts int
}

// floorImport is what the import is judged against: psql's \copy of the
// file into a staging table, then one INSERT … SELECT … ON CONFLICT into
// mkt_wap_contacts (its unique index on the number), with no parsing,
// normalizing, provenance or report.
func floorImport(ctx context.Context, serverURL, file string) (*floorResult, error) {
	s, err := newPostgres(ctx, serverURL)
	if err != nil {
		return nil, err
	}
	defer s.drop()
	script := `CREATE UNLOGGED TABLE floor_stage (phone TEXT, name TEXT, city TEXT);
\copy floor_stage FROM '` + file + `' WITH (FORMAT csv, HEADER true)
INSERT INTO mkt_wap_contacts (id, phone_e164, full_name, first_seen_at, last_seen_at, attributes, created_at, updated_at)
  SELECT gen_random_uuid()::text, phone, name, now(), now(), jsonb_build_object('city', city), now(), now()
  FROM floor_stage WHERE phone LIKE '+%'
  ON CONFLICT (phone_e164) WHERE phone_e164 IS NOT NULL DO NOTHING;
`
	started := time.Now()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s.url, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("psql: %v: %s", err, out)
	}
	took := time.Since(started)
	var n int
	if err := s.db.NewRaw("SELECT count(*) FROM mkt_wap_contacts").Scan(ctx, &n); err != nil {
		return nil, err
	}
	return &floorResult{took: took, contacts: n}, nil
}

// queue stands for River: the benchmark runs the import job itself.
type queue struct{}

func (queue) Enqueue(context.Context, bun.IDB, river.JobArgs, *river.InsertOpts) (*rivertype.JobRow, error) {
	return &rivertype.JobRow{ID: 1}, nil
}

type importResult struct {
	upload, run time.Duration
	report      contact.ImportReport
	peakMB      float64
}

// importFile uploads the file and runs its import job to the end, and
// measures the process's peak RSS meanwhile.
func importFile(ctx context.Context, db *store.DB, file string) (*importResult, error) {
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop(), DefaultRegion: "DE"})
	im := contact.NewImporter(svc, queue{}, nil, contact.ImportOptions{MaxUploadBytes: 1 << 30})
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	resetPeakRSS()
	res := &importResult{}
	started := time.Now()
	job, err := im.StartImport(ctx, contact.StartImportInput{File: f, FileName: "contacts.csv"})
	if err != nil {
		return nil, err
	}
	res.upload = time.Since(started)
	started = time.Now()
	for done := false; !done; {
		if done, err = im.Run(ctx, job.ID, time.Now().Add(time.Hour)); err != nil {
			return nil, err
		}
	}
	res.run = time.Since(started)
	res.peakMB = peakRSSMB()
	final, err := im.Import(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	res.report = final.Report
	return res, nil
}

// resetPeakRSS starts a new peak (Linux: clear_refs 5 resets VmHWM).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB is the process's peak resident set since resetPeakRSS (Linux).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
