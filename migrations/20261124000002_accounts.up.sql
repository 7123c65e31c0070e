-- WhatsApp accounts and their status history. The whatsmeow device store lives
-- in its own whatsmeow_* tables; accounts.jid points at its device row.
CREATE TABLE IF NOT EXISTS accounts (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    reason_code           TEXT NOT NULL,
    reason_message        TEXT NOT NULL,
    -- Increases by one with every status change; equals the newest history row's version.
    version               BIGINT NOT NULL,
    phone_number          TEXT,
    jid                   TEXT,
    lid                   TEXT,
    push_name             TEXT,
    platform              TEXT,
    business_name         TEXT,
    -- The live session's id; events from any other session are ignored.
    session_id            TEXT,
    activation_method     TEXT,
    activation_started_at TIMESTAMPTZ,
    activation_expires_at TIMESTAMPTZ,
    pairing_phone         TEXT,
    pairing_code          TEXT,
    qr_code               TEXT,
    qr_expires_at         TIMESTAMPTZ,
    -- Increases with every QR event (new code, pairing code, end of codes); orders the QR stream.
    qr_seq                BIGINT NOT NULL DEFAULT 0,
    banned_until          TIMESTAMPTZ,
    reconnect_attempts    BIGINT NOT NULL DEFAULT 0,
    last_connected_at     TIMESTAMPTZ,
    last_active_at        TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS accounts_status_idx ON accounts (status);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS accounts_jid_idx ON accounts (jid);
--bun:split
CREATE TABLE IF NOT EXISTS account_status_history (
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    version        BIGINT NOT NULL,
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    reason_code    TEXT NOT NULL,
    reason_message TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, version)
);
