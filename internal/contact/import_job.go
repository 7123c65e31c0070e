package contact

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
	"wagraph/internal/paging"
	"wagraph/internal/store"
)

// Job-backed imports: a CSV file of any size (within the upload limit) is
// stored in the database in chunks, in the transaction that enqueues the
// import job, so that any instance can run the job and a crash loses
// nothing. The job reads the file as a stream, writes the rows in batches
// and checkpoints each batch together with its progress, so a job killed
// mid-file resumes after its last committed batch without losing or
// repeating a row (import_worker.go).

// ImportState is where a job-backed import is.
type ImportState string

const (
	ImportQueued   ImportState = "QUEUED"
	ImportRunning  ImportState = "RUNNING"
	ImportDone     ImportState = "DONE"
	ImportFailed   ImportState = "FAILED"
	ImportCanceled ImportState = "CANCELED"
)

// Final reports whether the import has ended.
func (s ImportState) Final() bool {
	return s == ImportDone || s == ImportFailed || s == ImportCanceled
}

// ImportJob is a job-backed import: its file, settings, progress and report.
type ImportJob struct {
	ID string
	// JobID is the River job that runs it.
	JobID         int64
	State         ImportState
	FileName      string
	FileBytes     int64
	BytesDone     int64
	PersonaIDs    []string
	DefaultRegion string
	DryRun        bool
	// Report holds the counters; its Errors are loaded by ImportErrors.
	Report ImportReport
	// ErrorCode and ErrorMessage say why a FAILED import failed.
	ErrorCode    string
	ErrorMessage string
	// Version increases with every change (progress events).
	Version    int64
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	UpdatedAt  time.Time
}

// importRow is an import as stored in contact_imports.
type importRow struct {
	bun.BaseModel `bun:"table:contact_imports,alias:ci"`

	ID            string    `bun:"id,pk"`
	State         string    `bun:"state,notnull"`
	JobID         int64     `bun:"job_id,nullzero"`
	FileName      string    `bun:"file_name,notnull"`
	FileBytes     int64     `bun:"file_bytes,notnull"`
	Chunks        int       `bun:"chunks,notnull"`
	PersonaIDs    string    `bun:"persona_ids,notnull"`
	DefaultRegion string    `bun:"default_region,notnull"`
	DryRun        bool      `bun:"dry_run,notnull"`
	BytesDone     int64     `bun:"bytes_done,notnull"`
	NextLine      int       `bun:"next_line,notnull"`
	RowsRead      int       `bun:"rows_read,notnull"`
	Created       int       `bun:"created,notnull"`
	Updated       int       `bun:"updated,notnull"`
	Unchanged     int       `bun:"unchanged,notnull"`
	Merged        int       `bun:"merged,notnull"`
	Duplicates    int       `bun:"duplicates,notnull"`
	Invalid       int       `bun:"invalid,notnull"`
	ErrorsOmitted int       `bun:"errors_omitted,notnull"`
	ErrorCode     string    `bun:"error_code,notnull"`
	ErrorMessage  string    `bun:"error_message,notnull"`
	Version       int64     `bun:"version,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull"`
	StartedAt     time.Time `bun:"started_at,nullzero"`
	FinishedAt    time.Time `bun:"finished_at,nullzero"`
	UpdatedAt     time.Time `bun:"updated_at,notnull"`
}

func (r *importRow) personaIDs() []string {
	var ids []string
	_ = json.Unmarshal([]byte(r.PersonaIDs), &ids) // written by StartImport only
	return ids
}

func (r *importRow) toJob() *ImportJob {
	return &ImportJob{
		ID: r.ID, JobID: r.JobID, State: ImportState(r.State), FileName: r.FileName, FileBytes: r.FileBytes, BytesDone: r.BytesDone,
		PersonaIDs: r.personaIDs(), DefaultRegion: r.DefaultRegion, DryRun: r.DryRun,
		Report: ImportReport{
			ImportID: r.ID, DryRun: r.DryRun, RowsRead: r.RowsRead, Created: r.Created, Updated: r.Updated, Unchanged: r.Unchanged,
			Merged: r.Merged, Duplicates: r.Duplicates, Invalid: r.Invalid, ErrorsOmitted: r.ErrorsOmitted,
		},
		ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, Version: r.Version,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, UpdatedAt: r.UpdatedAt,
	}
}

// Enqueuer inserts River jobs inside a transaction (jobs.Service).
type Enqueuer interface {
	Enqueue(ctx context.Context, db bun.IDB, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error)
}

// ImportMetrics observes job-backed imports; rows by outcome go to
// Metrics.ImportRows. Implementations must be safe for concurrent use.
type ImportMetrics interface {
	// ImportFinished counts an import that ended, by its final state.
	ImportFinished(ImportState)
	// ImportBatch observes one committed batch: its data rows, the bytes
	// of the file it covered and how long it took.
	ImportBatch(rows int, bytes int64, took time.Duration)
}

// NopImportMetrics observes nothing.
type NopImportMetrics struct{}

func (NopImportMetrics) ImportFinished(ImportState)            {}
func (NopImportMetrics) ImportBatch(int, int64, time.Duration) {}

// ImportOptions tune the Importer. Zero fields take the defaults.
type ImportOptions struct {
	// MaxUploadBytes bounds one uploaded file (IMPORT_UPLOAD_MAX_BYTES);
	// default 100 MiB.
	MaxUploadBytes int64
	// BatchRows is how many data rows one batch (one transaction and
	// checkpoint) takes; default 10,000 on Postgres, 500 on SQLite, where a
	// batch holds the one write lock for its whole transaction: a long one
	// keeps River (job fetches, leader election) and the API waiting on
	// the busy timeout (batches are also spaced there: sqliteYield).
	BatchRows int
	// ChunkBytes is the size of the stored file's chunks; default 1 MiB.
	ChunkBytes int
	Metrics    ImportMetrics
}

// Importer runs job-backed CSV imports: StartImport stores the file and
// enqueues the job, the worker (RegisterJobs) imports it, and WatchImport
// follows its progress.
type Importer struct {
	svc  *Service
	db   *store.DB
	jobs Enqueuer
	bus  bus.Bus
	opts ImportOptions
	log  zerolog.Logger
}

// NewImporter builds the importer over the contact service.
func NewImporter(svc *Service, jobs Enqueuer, b bus.Bus, opts ImportOptions) *Importer {
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 100 << 20
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
		if svc.db.Kind == store.Postgres {
			opts.BatchRows = 10_000
		}
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 1 << 20
	}
	if opts.Metrics == nil {
		opts.Metrics = NopImportMetrics{}
	}
	return &Importer{svc: svc, db: svc.db, jobs: jobs, bus: b, opts: opts, log: svc.log}
}

// MaxUploadBytes is the largest file StartImport takes.
func (im *Importer) MaxUploadBytes() int64 { return im.opts.MaxUploadBytes }

// StartImportInput is one job-backed CSV import.
type StartImportInput struct {
	// File is the CSV file; FileName is shown back as given.
	File          io.Reader
	FileName      string
	PersonaIDs    []string
	DefaultRegion string
	DryRun        bool
}

// sniffBytes is how much of a file StartImport checks before storing it:
// encoding and header, so that a file that cannot be imported at all is
// refused at once rather than by a failed job.
const sniffBytes = 64 << 10

// StartImport checks the file's encoding and header, stores it in chunks
// and enqueues the import job, in one transaction, and returns the queued
// import. A file larger than MaxUploadBytes is refused.
func (im *Importer) StartImport(ctx context.Context, in StartImportInput) (*ImportJob, error) {
	if in.File == nil {
		return nil, csvInvalid("no file given", "Send the CSV file as the file variable of a multipart request.")
	}
	if err := im.svc.checkImport(ctx, in.DefaultRegion, in.PersonaIDs); err != nil {
		return nil, err
	}
	file := io.LimitReader(in.File, im.opts.MaxUploadBytes+1)
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(file, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("contact: read upload: %w", err)
	}
	head = head[:n]
	if err := sniffFile(head); err != nil {
		return nil, err
	}
	personas, _ := json.Marshal(append([]string{}, in.PersonaIDs...))
	now := im.svc.now()
	row := &importRow{
		ID: newID(), State: string(ImportQueued), FileName: clipFileName(in.FileName), PersonaIDs: string(personas),
		DefaultRegion: in.DefaultRegion, DryRun: in.DryRun, NextLine: 2, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err = im.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return fmt.Errorf("contact: insert import: %w", err)
		}
		size, chunks, err := im.storeChunks(ctx, tx, row.ID, io.MultiReader(bytesReader(head), file))
		if err != nil {
			return err
		}
		row.FileBytes, row.Chunks = size, chunks
		job, err := im.jobs.Enqueue(ctx, tx, ImportArgs{ImportID: row.ID}, nil)
		if err != nil {
			return err
		}
		row.JobID = job.ID
		_, err = tx.NewUpdate().Model(row).Column("file_bytes", "chunks", "job_id").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	im.log.Info().Str("import_id", row.ID).Int64("job_id", row.JobID).Int64("bytes", row.FileBytes).Bool("dry_run", row.DryRun).Msg("contact import queued")
	return row.toJob(), nil
}

// storeChunks writes r into the import's chunks and returns its size and
// chunk count; more than MaxUploadBytes is refused.
func (im *Importer) storeChunks(ctx context.Context, tx bun.Tx, importID string, r io.Reader) (int64, int, error) {
	buf := make([]byte, im.opts.ChunkBytes)
	var size int64
	seq := 0
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			size += int64(n)
			if size > im.opts.MaxUploadBytes {
				return 0, 0, UploadTooLarge(im.opts.MaxUploadBytes)
			}
			if _, err := tx.NewRaw("INSERT INTO contact_import_chunks (import_id, seq, data) VALUES (?, ?, ?)", importID, seq, buf[:n]).Exec(ctx); err != nil {
				return 0, 0, fmt.Errorf("contact: store import chunk: %w", err)
			}
			seq++
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return size, seq, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("contact: read upload: %w", err)
		}
	}
}

// UploadTooLarge is the error for a file over the upload limit.
func UploadTooLarge(limit int64) error {
	return apperr.Newf(apperr.BadRequest, "the file is larger than %d bytes, the most one upload takes (IMPORT_UPLOAD_MAX_BYTES)", limit).
		WithSuggestion("Split the file into smaller ones, or ask the operators to raise IMPORT_UPLOAD_MAX_BYTES.")
}

func clipFileName(s string) string {
	s = cleanName(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200])
	}
	return s
}

func importNotFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no import with id %q", id).
		WithSuggestion("List imports with the importJobs query to find the one you meant.")
}

func (im *Importer) get(ctx context.Context, db bun.IDB, id string) (*importRow, error) {
	r := new(importRow)
	err := db.NewSelect().Model(r).Where("ci.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, importNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get import %s: %w", id, err)
	}
	return r, nil
}

// Import returns one job-backed import (its report without the skipped
// rows; see ImportErrors).
func (im *Importer) Import(ctx context.Context, id string) (*ImportJob, error) {
	r, err := im.get(ctx, im.db.DB, id)
	if err != nil {
		return nil, err
	}
	return r.toJob(), nil
}

// ImportErrors returns the skipped rows an import recorded (at most
// MaxReportedErrors), by line.
func (im *Importer) ImportErrors(ctx context.Context, id string) ([]RowError, error) {
	var rows []struct {
		Line   int    `bun:"line"`
		Reason string `bun:"reason"`
	}
	err := im.db.NewSelect().Table("contact_import_errors").Column("line", "reason").
		Where("import_id = ?", id).OrderExpr("line ASC").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("contact: import errors of %s: %w", id, err)
	}
	out := make([]RowError, len(rows))
	for i, r := range rows {
		out[i] = RowError{Line: r.Line, Reason: r.Reason}
	}
	return out, nil
}

// ImportPage is one page of imports, newest first.
type ImportPage struct {
	Imports     []*ImportJob
	HasNextPage bool
	TotalCount  int
}

// Imports lists job-backed imports, newest first; after is the id of the
// last import of the previous page.
func (im *Importer) Imports(ctx context.Context, first *int, after string) (*ImportPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	total, err := im.db.NewSelect().Model((*importRow)(nil)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: count imports: %w", err)
	}
	q := im.db.NewSelect().Model((*importRow)(nil)).OrderExpr("ci.created_at DESC, ci.id DESC").Limit(int64(n + 1))
	if after != "" {
		cur, err := im.get(ctx, im.db.DB, after)
		if err != nil {
			return nil, apperr.Invalid("after", "the cursor names no import", "Start again without after.")
		}
		q = q.Where("(ci.created_at < ?) OR (ci.created_at = ? AND ci.id < ?)", cur.CreatedAt, cur.CreatedAt, cur.ID)
	}
	var rows []importRow
	if n > 0 {
		if err := q.Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("contact: list imports: %w", err)
		}
	}
	page := &ImportPage{TotalCount: int(total), Imports: []*ImportJob{}}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for i := range rows {
		page.Imports = append(page.Imports, rows[i].toJob())
	}
	return page, nil
}

// CancelImport stops an import that has not ended: a queued one never
// runs, a running one stops after the batch it is writing (what was
// committed stays). Canceling an ended import is INVALID_TRANSITION.
func (im *Importer) CancelImport(ctx context.Context, id string) (*ImportJob, error) {
	var row *importRow
	err := im.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		r, err := im.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if ImportState(r.State).Final() {
			return apperr.Newf(apperr.InvalidTransition, "the import has already ended (%s)", r.State).
				WithSuggestion("Only a QUEUED or RUNNING import can be canceled.")
		}
		now := im.svc.now()
		res, err := tx.NewUpdate().Model((*importRow)(nil)).
			Set("state = ?", string(ImportCanceled)).Set("finished_at = ?", now).Set("updated_at = ?", now).Set("version = version + 1").
			Where("id = ? AND state = ?", id, r.State).Exec(ctx)
		if err != nil {
			return fmt.Errorf("contact: cancel import: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "the import changed while it was being canceled; try again")
		}
		if _, err := tx.NewDelete().Table("contact_import_chunks").Where("import_id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("contact: drop import file: %w", err)
		}
		row, err = im.get(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	im.opts.Metrics.ImportFinished(ImportCanceled)
	im.log.Info().Str("import_id", id).Msg("contact import canceled")
	job := row.toJob()
	im.publish(ctx, job)
	return job, nil
}
