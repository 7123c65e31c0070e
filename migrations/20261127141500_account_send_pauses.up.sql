-- Pauses of an account's sending (issue 12): set by an operator
-- (pauseSending) or by a ban signal (reach-out time-lock, temporary ban,
-- error 463, a burst of failed sends). account_send_pauses holds the
-- current pause of each paused account; a row whose paused_until has passed
-- no longer pauses anything (Admit compares with the clock), and the
-- expiry sweep moves it out. paused_until NULL: until resumed.
-- account_send_pause_history keeps every pause that took effect, with when
-- and how it ended.
CREATE TABLE IF NOT EXISTS account_send_pause_history (
    id           {{if .Postgres}}BIGSERIAL{{else}}INTEGER{{end}} PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reason       TEXT NOT NULL,
    code         BIGINT NOT NULL,
    message      TEXT NOT NULL,
    paused_at    TIMESTAMPTZ NOT NULL,
    paused_until TIMESTAMPTZ,
    -- ended_at and end_reason (RESUMED, EXPIRED, REPLACED, LIFTED) stay
    -- NULL while the pause is the account's current one.
    ended_at     TIMESTAMPTZ,
    end_reason   TEXT
);
CREATE INDEX IF NOT EXISTS account_send_pause_history_account ON account_send_pause_history (account_id, id);

CREATE TABLE IF NOT EXISTS account_send_pauses (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    history_id   BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    code         BIGINT NOT NULL,
    message      TEXT NOT NULL,
    paused_at    TIMESTAMPTZ NOT NULL,
    paused_until TIMESTAMPTZ
);
