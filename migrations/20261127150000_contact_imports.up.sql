-- Job-backed contact imports (issue 11): the uploaded file, stored in the
-- database in chunks so that any instance can run the import job and a
-- crash loses nothing, and the import's progress, checkpointed with every
-- batch it commits (rows and bytes done, the report's counters), so that a
-- job killed mid-file resumes where its last batch ended.
CREATE TABLE IF NOT EXISTS contact_imports (
    id             TEXT PRIMARY KEY,
    -- QUEUED, RUNNING, DONE, FAILED, CANCELED.
    state          TEXT NOT NULL,
    job_id         BIGINT,
    file_name      TEXT NOT NULL DEFAULT '',
    file_bytes     BIGINT NOT NULL,
    chunks         INTEGER NOT NULL,
    -- JSON array of persona ids.
    persona_ids    TEXT NOT NULL DEFAULT '[]',
    default_region TEXT NOT NULL DEFAULT '',
    dry_run        BOOLEAN NOT NULL DEFAULT FALSE,
    -- The checkpoint: the file's bytes and data rows done, and the line the
    -- next row starts on.
    bytes_done     BIGINT NOT NULL DEFAULT 0,
    next_line      INTEGER NOT NULL DEFAULT 2,
    rows_read      INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL DEFAULT 0,
    updated        INTEGER NOT NULL DEFAULT 0,
    unchanged      INTEGER NOT NULL DEFAULT 0,
    merged         INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    invalid        INTEGER NOT NULL DEFAULT 0,
    errors_omitted INTEGER NOT NULL DEFAULT 0,
    -- Why a FAILED import failed.
    error_code     TEXT NOT NULL DEFAULT '',
    error_message  TEXT NOT NULL DEFAULT '',
    -- Increases with every change, for the importProgress events.
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS contact_imports_created_idx ON contact_imports (created_at, id);
--bun:split
-- The uploaded file, in order. Deleted when the import ends.
CREATE TABLE IF NOT EXISTS contact_import_chunks (
    import_id TEXT NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    data      {{if .Postgres}}BYTEA{{else}}BLOB{{end}} NOT NULL,
    PRIMARY KEY (import_id, seq)
);
--bun:split
-- The report's skipped rows: the first 1000 invalid rows with their line.
CREATE TABLE IF NOT EXISTS contact_import_errors (
    import_id TEXT NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);
