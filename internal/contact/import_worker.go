package contact

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
)

// ImportArgs is the River job that runs one job-backed import.
type ImportArgs struct {
	ImportID string `json:"import_id"`
}

// Kind implements river.JobArgs.
func (ImportArgs) Kind() string { return "import_contacts" }

// InsertOpts: an import is unique, and a failed attempt (database away)
// is retried from its checkpoint.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type importWorker struct {
	river.WorkerDefaults[ImportArgs]
	im *Importer
}

// RegisterJobs registers the import worker.
func (im *Importer) RegisterJobs(r *jobs.Registry) {
	jobs.AddWorker(r, &importWorker{im: im})
}

// Work runs the import from its checkpoint until it ends or most of the
// job's time is used; then it snoozes, to go on at once from the new
// checkpoint, so that no single run outlives the job timeout (and River's
// rescue of stuck jobs never finds a live one).
func (w *importWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	stopAt := time.Now().Add(45 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		stopAt = time.Now().Add(time.Until(d) * 3 / 4)
	}
	done, err := w.im.Run(ctx, job.Args.ImportID, stopAt)
	if err != nil {
		if job.Attempt >= job.MaxAttempts || isCoded(err) {
			w.im.fail(context.WithoutCancel(ctx), job.Args.ImportID, err)
			return river.JobCancel(err)
		}
		return err
	}
	if !done {
		return river.JobSnooze(0)
	}
	return nil
}

func isCoded(err error) bool {
	_, ok := apperr.As(err)
	return ok
}

// errImportMoved stops a run whose import was canceled, or checkpointed by
// another run, while it wrote a batch.
var errImportMoved = errors.New("contact: the import moved on without this run")

// Run imports from the import's checkpoint until the file ends (true) or
// stopAt passes (false: run it again to go on). Each batch of rows is
// written in one transaction together with the new checkpoint and the
// report's counters, so a run killed at any point resumes exactly after
// the last committed batch.
func (im *Importer) Run(ctx context.Context, importID string, stopAt time.Time) (bool, error) {
	row, err := im.get(ctx, im.db.DB, importID)
	if err != nil {
		return false, err
	}
	if ImportState(row.State).Final() {
		return true, nil
	}
	if row.State == string(ImportQueued) {
		if row, err = im.markRunning(ctx, row); err != nil {
			return false, err
		}
	}
	var seen map[string]int // job-lifetime keys: dry runs write nothing to find duplicates in
	var earlier *earlierNumbers
	if row.DryRun {
		if seen, err = im.replaySeen(ctx, row); err != nil {
			return false, err
		}
	} else if row.BytesDone > 0 {
		if earlier, err = im.loadEarlierNumbers(ctx, im.db.DB, row.ID); err != nil {
			return false, err
		}
	} else {
		earlier = newEarlierNumbers()
	}
	// Reading (CSV, numbers) runs one batch ahead of writing, so that the
	// two overlap; a batch read ahead when the run stops is read again by
	// the next run, from the checkpoint.
	readCtx, stopReading := context.WithCancel(ctx)
	cur, err := im.openFile(readCtx, row, row.BytesDone, row.NextLine)
	if err != nil {
		stopReading()
		return false, err
	}
	batches := make(chan *importBatch, 1)
	var reading sync.WaitGroup
	reading.Add(1)
	go func(row *importRow) {
		defer reading.Done()
		defer close(batches)
		for {
			b := im.readBatch(cur, row, seen, im.opts.BatchRows)
			select {
			case batches <- b:
			case <-readCtx.Done():
				return
			}
			if b.eof || b.err != nil {
				return
			}
		}
	}(row)
	defer func() {
		stopReading()
		reading.Wait()
	}()
	ended := false
	held := time.Now() // the write lock has been ours since (SQLite)
	for b := range batches {
		if ended = b.eof; b.rowsRead == 0 && b.eof {
			break
		}
		next, err := im.writeBatch(ctx, row, b, earlier)
		if errors.Is(err, errImportMoved) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		row = next
		im.log.Debug().Str("import_id", row.ID).Int("rows", row.RowsRead).Int64("bytes_done", row.BytesDone).Int64("bytes", row.FileBytes).
			Msg("contact import batch written")
		im.publish(ctx, row.toJob())
		if b.eof {
			break
		}
		if im.mustYield(held) {
			im.yieldWriteLock(ctx, time.Since(held))
			held = time.Now()
		}
		if time.Now().After(stopAt) || ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	if !ended { // the reading stopped: ctx ended
		if err := context.Cause(ctx); err != nil {
			return false, err
		}
		return false, errors.New("contact: the import's reading stopped early")
	}
	return true, im.finish(ctx, row)
}

// sqliteYield is the pause between two import batches on SQLite. SQLite
// has one write lock, and a waiting writer polls for it with sleeps of up
// to 100 ms: batches committed back to back would starve every other
// writer (River's job fetches and leader election, the API's mutations)
// until their busy timeout. The pause lets them in.
const sqliteYield = 120 * time.Millisecond

// sqliteHold is how long batches may follow each other before the import
// pauses: a 500-row batch takes about 90 ms, and a pause after each one
// was more than half of a 1,000,000-row import's time. Another writer
// waits at most this plus one batch; when a batch alone takes longer (a
// slow or busy machine, -race) the import pauses after every batch.
const sqliteHold = 300 * time.Millisecond

// mustYield reports whether the import pauses now, having written since
// held (see sqliteHold); only on SQLite.
func (im *Importer) mustYield(held time.Time) bool {
	return im.db.Kind == store.SQLite && time.Since(held) >= sqliteHold
}

// yieldPause is how long the import pauses after holding SQLite's write
// lock for held: half of that, and at least sqliteYield, so the other
// writers get a third of the time or more however slow the batches are (a
// fixed pause after 600 ms batches under -race and a loaded CI machine
// starved River: its job fetches and leader election timed out).
func yieldPause(held time.Duration) time.Duration {
	return max(sqliteYield, held/2)
}

// yieldWriteLock pauses between batches on SQLite (see yieldPause).
func (im *Importer) yieldWriteLock(ctx context.Context, held time.Duration) {
	if im.db.Kind != store.SQLite {
		return
	}
	t := time.NewTimer(yieldPause(held))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (im *Importer) markRunning(ctx context.Context, row *importRow) (*importRow, error) {
	now := im.svc.now()
	res, err := im.db.NewUpdate().Model((*importRow)(nil)).
		Set("state = ?", string(ImportRunning)).Set("started_at = ?", now).Set("updated_at = ?", now).Set("version = version + 1").
		Where("id = ? AND state = ?", row.ID, string(ImportQueued)).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: start import: %w", err)
	}
	next, err := im.get(ctx, im.db.DB, row.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		im.log.Info().Str("import_id", row.ID).Int64("bytes", row.FileBytes).Msg("contact import started")
		im.publish(ctx, next.toJob())
	}
	return next, nil
}

// batchRow is a valid row of a batch, ready to write.
type batchRow struct {
	line int
	id   identity
	obs  Observation
}

// importBatch is the rows read for one transaction, and where they end.
type importBatch struct {
	rows     []batchRow
	skipped  []RowError // invalid rows and duplicates found while reading
	invalid  int
	dups     int
	rowsRead int
	bytes    int64 // the file's bytes the batch covers
	start    int64 // the checkpoint before it
	end      int64 // the checkpoint after it
	endLine  int
	eof      bool
	err      error // a read error (not a bad row): the run stops
}

// readBatch reads up to limit data rows. seen holds the keys of earlier
// rows for dry runs (nil: only this batch's rows are compared here;
// earlier batches are looked up in the database). Numbers are normalized
// on every core (libphonenumber is most of the reading's cost); rows are
// then classified in file order.
func (im *Importer) readBatch(cur *fileCursor, row *importRow, seen map[string]int, limit int) *importBatch {
	b := &importBatch{}
	if seen == nil {
		seen = map[string]int{}
	}
	source := Source{Kind: SourceImport, ImportID: row.ID}
	type pending struct {
		line   int
		obs    Observation
		id     identity
		reason string
	}
	rows := make([]pending, 0, limit)
	for b.rowsRead < limit {
		line, rec, err := cur.next()
		if errors.Is(err, io.EOF) {
			b.eof = true
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			b.rowsRead++
			rows = append(rows, pending{line: line, reason: fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)})
			continue
		}
		if err != nil {
			b.err = err
			break
		}
		b.rowsRead++
		if reason := badText(rec); reason != "" {
			rows = append(rows, pending{line: line, reason: reason})
			continue
		}
		r := mapRow(line, rec, cur.header.roles, cur.header.names)
		o := r.Obs
		o.Region, o.Source = row.DefaultRegion, source
		rows = append(rows, pending{line: line, obs: o, reason: r.Err})
	}
	parallel(len(rows), func(i int) {
		if p := &rows[i]; p.reason == "" {
			id, err := im.svc.identify(p.obs)
			if err != nil {
				p.reason = reasonOf(err)
			}
			p.id = id
		}
	})
	for _, p := range rows {
		if p.reason != "" {
			b.invalid++
			b.skipped = append(b.skipped, RowError{Line: p.line, Reason: p.reason})
			continue
		}
		if first, dup := duplicateOf(seen, p.id); dup {
			b.dups++
			b.skipped = append(b.skipped, RowError{Line: p.line, Reason: "duplicate of line " + strconv.Itoa(first)})
			continue
		}
		for _, k := range []string{p.id.phone, p.id.lid} {
			if k != "" {
				seen[k] = p.line
			}
		}
		b.rows = append(b.rows, batchRow{line: p.line, id: p.id, obs: p.obs})
	}
	b.start = cur.done
	b.end, b.endLine = cur.position()
	b.bytes = b.end - b.start
	cur.done = b.end
	return b
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), max(n/256, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// badText says why a row's cells are not text ("" when they are).
func badText(rec []string) string {
	for _, c := range rec {
		if !utf8.ValidString(c) {
			return "the row is not UTF-8 text; only UTF-8 is read (convert the file: iconv -f WINDOWS-1252 -t UTF-8)"
		}
		if strings.IndexByte(c, 0) >= 0 {
			return "the row holds a NUL byte: the file is not UTF-8 text"
		}
	}
	return ""
}

// replaySeen reads a dry run's rows before its checkpoint again, for the
// keys later rows are compared with (a dry run writes none to look up).
func (im *Importer) replaySeen(ctx context.Context, row *importRow) (map[string]int, error) {
	seen := map[string]int{}
	if row.BytesDone == 0 {
		return seen, nil
	}
	cur, err := im.openFile(ctx, row, 0, 0)
	if err != nil {
		return nil, err
	}
	for {
		b := im.readBatch(cur, row, seen, 1)
		if b.err != nil {
			return nil, b.err
		}
		if b.eof || b.end >= row.BytesDone {
			return seen, nil
		}
	}
}

// writeBatch writes a batch's rows (not for a dry run: their outcome is
// worked out in a transaction that is rolled back) and its checkpoint, and
// returns the import as the checkpoint left it.
func (im *Importer) writeBatch(ctx context.Context, row *importRow, b *importBatch, earlier *earlierNumbers) (*importRow, error) {
	if b.err != nil {
		return nil, b.err
	}
	started := time.Now()
	var next *importRow
	var out batchOutcome
	if row.DryRun {
		err := im.inTx(ctx, func(ctx context.Context, tx bun.Tx, pgConn *bun.Conn) error {
			var err error
			if out, err = im.writeRows(ctx, tx, pgConn, row, b, nil); err != nil {
				return err
			}
			return errDryRun
		})
		if err != nil && !errors.Is(err, errDryRun) {
			return nil, err
		}
		err = im.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			next, err = im.checkpoint(ctx, tx, row, b, out)
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		err := im.inTx(ctx, func(ctx context.Context, tx bun.Tx, pgConn *bun.Conn) error {
			out, err := im.writeRows(ctx, tx, pgConn, row, b, earlier)
			if err != nil {
				return err
			}
			next, err = im.checkpoint(ctx, tx, row, b, out)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	im.opts.Metrics.ImportBatch(b.rowsRead, b.bytes, time.Since(started))
	return next, nil
}

// inTx runs fn in a transaction; on Postgres it also gets the transaction's
// connection, for COPY.
//
// On Postgres a batch's transaction commits without waiting for its WAL to
// reach the disk (synchronous_commit off, for this transaction only). That
// is safe because the batch's rows and its checkpoint are one transaction:
// a crash of the database can lose only the last commits whole, never part
// of one, and the import then resumes from the checkpoint the database
// kept, writing those batches again (the same rows, the same outcome, as
// after a kill of the process). Nothing outside the database has seen a
// lost batch as final: River's job state and the import's end (finish)
// are committed synchronously, and such a commit flushes the WAL before it,
// the asynchronous batches included. A progress event of a lost batch may
// have been published; the next one carries the counters again.
func (im *Importer) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx, pgConn *bun.Conn) error) error {
	if im.db.Kind != store.Postgres {
		return im.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx, nil) })
	}
	conn, err := im.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("contact: import connection: %w", err)
	}
	defer conn.Close()
	return conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return fmt.Errorf("contact: import transaction: %w", err)
		}
		return fn(ctx, tx, &conn)
	})
}

// batchOutcome is what writing a batch's rows did.
type batchOutcome struct {
	created, updated, unchanged, merged int
	// skipped are rows found invalid or duplicate while writing.
	skipped []RowError
	invalid int
	dups    int
}

func (o *batchOutcome) count(outcome Outcome) {
	switch outcome {
	case Created:
		o.created++
	case Updated:
		o.updated++
	case Merged:
		o.merged++
	default:
		o.unchanged++
	}
}

// writeRows upserts a batch's rows. On Postgres the rows with a number
// only (nearly all of a typical file) go through COPY into a staging table
// and one INSERT … ON CONFLICT; rows with a LID, which may merge contacts,
// go through the per-row upsert, as do all rows on SQLite. Rows whose
// number is in earlier (nil for a dry run) are duplicates of an earlier
// batch; the numbers the batch writes are added to it.
func (im *Importer) writeRows(ctx context.Context, tx bun.Tx, pgConn *bun.Conn, row *importRow, b *importBatch, earlier *earlierNumbers) (batchOutcome, error) {
	var out batchOutcome
	now := im.svc.now()
	rows := b.rows
	if earlier != nil {
		rows = make([]batchRow, 0, len(b.rows))
		for _, r := range b.rows {
			if earlier.has(r.id.phone) {
				out.dups++
				out.skipped = append(out.skipped, RowError{Line: r.line, Reason: duplicateEarlier})
				continue
			}
			rows = append(rows, r)
		}
	}
	perRow := rows
	if pgConn != nil {
		var phoneOnly []batchRow
		perRow = nil
		for _, r := range rows {
			if r.id.lid == "" {
				phoneOnly = append(phoneOnly, r)
			} else {
				perRow = append(perRow, r)
			}
		}
		if err := im.copyRows(ctx, tx, *pgConn, row, phoneOnly, now, &out); err != nil {
			return out, err
		}
		if earlier != nil {
			for _, r := range phoneOnly {
				earlier.add(r.id.phone)
			}
		}
	}
	for _, r := range perRow {
		if !row.DryRun && (earlier == nil || r.id.lid != "") {
			// A LID may have been given by an earlier batch under another
			// row's number (earlier holds numbers only).
			dup, err := alreadyImported(ctx, tx, r.id, row.ID)
			if err != nil {
				return out, err
			}
			if dup {
				out.dups++
				out.skipped = append(out.skipped, RowError{Line: r.line, Reason: duplicateEarlier})
				continue
			}
		}
		_, outcome, err := im.svc.upsert(ctx, tx, r.id, r.obs, now)
		if err != nil {
			if !isCoded(err) {
				return out, err
			}
			out.invalid++
			out.skipped = append(out.skipped, RowError{Line: r.line, Reason: reasonOf(err)})
			continue
		}
		if earlier != nil {
			earlier.add(r.id.phone)
		}
		out.count(outcome)
	}
	return out, nil
}

// duplicateEarlier is the reason of a row whose contact a row of an
// earlier batch gave.
const duplicateEarlier = "duplicate of an earlier row of the file"

// alreadyImported reports whether an earlier batch of the import gave the
// contact with this number or LID.
func alreadyImported(ctx context.Context, tx bun.IDB, id identity, importID string) (bool, error) {
	q := tx.NewSelect().TableExpr("contact_sources AS cs").Join("JOIN mkt_wap_contacts AS c ON c.id = cs.contact_id").
		Where("cs.import_id = ? AND cs.kind = ? AND cs.account_id = '' AND cs.group_jid = ''", importID, string(SourceImport))
	q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		if id.phone != "" {
			q = q.WhereOr("c.phone_e164 = ?", id.phone)
		}
		if id.lid != "" {
			q = q.WhereOr("c.lid = ?", id.lid)
		}
		return q
	})
	ok, err := q.Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("contact: look up earlier import rows: %w", err)
	}
	return ok, nil
}

// checkpoint records a written batch: the report's counters, its skipped
// rows (the first MaxReportedErrors of the import), and where the next
// batch starts. It fails with errImportMoved when the import was canceled
// or another run checkpointed it meanwhile.
func (im *Importer) checkpoint(ctx context.Context, tx bun.Tx, row *importRow, b *importBatch, out batchOutcome) (*importRow, error) {
	skipped := append(append([]RowError{}, b.skipped...), out.skipped...)
	listed := row.Invalid + row.Duplicates - row.ErrorsOmitted
	room := max(MaxReportedErrors-listed, 0)
	omitted := 0
	if len(skipped) > room {
		omitted = len(skipped) - room
		if room > 0 { // once the list is full, nothing to sort
			sortErrors(skipped)
		}
		skipped = skipped[:room]
	}
	for start := 0; start < len(skipped); start += 200 {
		part := skipped[start:min(start+200, len(skipped))]
		vals := make([]string, 0, len(part))
		args := make([]any, 0, 3*len(part))
		for _, e := range part {
			vals = append(vals, "(?, ?, ?)")
			args = append(args, row.ID, e.Line, e.Reason)
		}
		if _, err := tx.NewRaw("INSERT INTO contact_import_errors (import_id, line, reason) VALUES "+strings.Join(vals, ", ")+" ON CONFLICT DO NOTHING", args...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("contact: record import errors: %w", err)
		}
	}
	now := im.svc.now()
	res, err := tx.NewUpdate().Model((*importRow)(nil)).
		Set("bytes_done = ?", b.end).Set("next_line = ?", b.endLine).
		Set("rows_read = rows_read + ?", b.rowsRead).
		Set("created = created + ?", out.created).Set("updated = updated + ?", out.updated).
		Set("unchanged = unchanged + ?", out.unchanged).Set("merged = merged + ?", out.merged).
		Set("duplicates = duplicates + ?", b.dups+out.dups).Set("invalid = invalid + ?", b.invalid+out.invalid).
		Set("errors_omitted = errors_omitted + ?", omitted).
		Set("version = version + 1").Set("updated_at = ?", now).
		Where("id = ? AND state = ? AND bytes_done = ?", row.ID, string(ImportRunning), row.BytesDone).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: checkpoint import: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errImportMoved
	}
	if !row.DryRun {
		m := im.svc.opts.Metrics
		for outcome, n := range map[string]int{
			"created": out.created, "updated": out.updated, "unchanged": out.unchanged, "merged": out.merged,
			"duplicate": b.dups + out.dups, "invalid": b.invalid + out.invalid,
		} {
			if n > 0 {
				m.ImportRows(outcome, n)
			}
		}
	}
	return im.get(ctx, tx, row.ID)
}

func sortErrors(es []RowError) {
	for i := 1; i < len(es); i++ { // nearly sorted: insertion sort
		for j := i; j > 0 && es[j].Line < es[j-1].Line; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// finish links the import's contacts to its personas, marks it DONE and
// drops its file.
func (im *Importer) finish(ctx context.Context, row *importRow) error {
	var next *importRow
	err := im.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := im.svc.now()
		if !row.DryRun {
			for _, pid := range row.personaIDs() {
				_, err := tx.NewRaw(`INSERT INTO contact_personas (contact_id, persona_id, added_at)
					SELECT cs.contact_id, ?, ? FROM contact_sources AS cs
					WHERE cs.import_id = ? AND cs.kind = ? AND EXISTS (SELECT 1 FROM personas AS p WHERE p.id = ?) ON CONFLICT DO NOTHING`,
					pid, now, row.ID, string(SourceImport), pid).Exec(ctx)
				if err != nil {
					return fmt.Errorf("contact: link import to persona: %w", err)
				}
			}
		}
		res, err := tx.NewUpdate().Model((*importRow)(nil)).
			Set("state = ?", string(ImportDone)).Set("bytes_done = file_bytes").Set("finished_at = ?", now).Set("updated_at = ?", now).Set("version = version + 1").
			Where("id = ? AND state = ?", row.ID, string(ImportRunning)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("contact: finish import: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errImportMoved
		}
		if _, err := tx.NewDelete().Table("contact_import_chunks").Where("import_id = ?", row.ID).Exec(ctx); err != nil {
			return fmt.Errorf("contact: drop import file: %w", err)
		}
		next, err = im.get(ctx, tx, row.ID)
		return err
	})
	if errors.Is(err, errImportMoved) {
		return nil
	}
	if err != nil {
		return err
	}
	im.opts.Metrics.ImportFinished(ImportDone)
	r := next.toJob().Report
	im.log.Info().Str("import_id", row.ID).Bool("dry_run", row.DryRun).Int("rows", r.RowsRead).
		Int("created", r.Created).Int("updated", r.Updated).Int("unchanged", r.Unchanged).Int("merged", r.Merged).
		Int("invalid", r.Invalid).Int("duplicates", r.Duplicates).Msg("contact import done")
	im.publish(ctx, next.toJob())
	return nil
}

// fail marks an import FAILED with why.
func (im *Importer) fail(ctx context.Context, importID string, cause error) {
	code, msg := string(apperr.Internal), "the import failed: "+cause.Error()
	if e, ok := apperr.As(cause); ok {
		code, msg = string(e.Code), e.Message
	}
	now := im.svc.now()
	res, err := im.db.NewUpdate().Model((*importRow)(nil)).
		Set("state = ?", string(ImportFailed)).Set("error_code = ?", code).Set("error_message = ?", clipReason(msg)).
		Set("finished_at = ?", now).Set("updated_at = ?", now).Set("version = version + 1").
		Where("id = ? AND state IN (?)", importID, bun.In([]string{string(ImportQueued), string(ImportRunning)})).Exec(ctx)
	if err != nil {
		im.log.Error().Err(err).Str("import_id", importID).Msg("could not mark the import failed")
		return
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return
	}
	im.opts.Metrics.ImportFinished(ImportFailed)
	im.log.Warn().Err(cause).Str("import_id", importID).Msg("contact import failed")
	if row, err := im.get(ctx, im.db.DB, importID); err == nil {
		im.publish(ctx, row.toJob())
	}
}

func clipReason(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
