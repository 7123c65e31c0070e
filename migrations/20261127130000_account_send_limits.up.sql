-- Per-account send limits (issue 12), set with setRateLimits. An account
-- without a row uses the defaults from config (RATE_LIMIT_*). limits is a
-- JSON list of {"max": n, "windowMs": n}, shortest window first;
-- new_chats_per_day NULL keeps the default for new chats.
CREATE TABLE IF NOT EXISTS account_send_limits (
    account_id        TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    limits            {{if .Postgres}}JSONB{{else}}TEXT{{end}} NOT NULL,
    new_chats_per_day BIGINT,
    updated_at        TIMESTAMPTZ NOT NULL
);
