-- Sending (issue 12): messages, the batches queueMessages makes, and each
-- account's known chats (who wrote to it), which decide whether a send is a
-- new chat. See docs/sending.md.
CREATE TABLE IF NOT EXISTS message_batches (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The text with its placeholders, as given.
    template          TEXT NOT NULL,
    start_at          TIMESTAMPTZ NOT NULL,
    jitter_seconds    BIGINT NOT NULL,
    -- Messages queued in all, and contacts skipped because they opted out
    -- or have no phone number.
    total             BIGINT NOT NULL,
    skipped_opted_out BIGINT NOT NULL,
    skipped_no_phone  BIGINT NOT NULL,
    -- Messages finished so far, counted in the transaction that finishes
    -- each (so progress costs no count over the batch's messages).
    sent              BIGINT NOT NULL DEFAULT 0,
    failed            BIGINT NOT NULL DEFAULT 0,
    canceled          BIGINT NOT NULL DEFAULT 0,
    -- Increases by one with every change of the counts, for batchProgress.
    version           BIGINT NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    canceled_at       TIMESTAMPTZ
);
--bun:split
CREATE INDEX IF NOT EXISTS message_batches_account_idx ON message_batches (account_id, id);
--bun:split
CREATE TABLE IF NOT EXISTS messages (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    batch_id         TEXT REFERENCES message_batches (id) ON DELETE CASCADE,
    -- The recipient's number in E.164; contact_id when it was given as (or
    -- is) a contact. No foreign key: the message outlives the contact.
    recipient        TEXT NOT NULL,
    contact_id       TEXT,
    body             TEXT NOT NULL,
    -- QUEUED → SENDING → SENT | FAILED; CANCELED before SENDING.
    status           TEXT NOT NULL,
    -- The WhatsApp message id, chosen before the send (so a resend after a
    -- crash uses the same id) and set when the message goes to SENDING.
    wa_message_id    TEXT,
    sent_at          TIMESTAMPTZ,
    error_code       TEXT,
    error_message    TEXT,
    error_suggestion TEXT,
    -- Why a QUEUED message waits (RATE_LIMITED, SENDING_PAUSED,
    -- ACCOUNT_NOT_ACTIVE) and until when; cleared when it goes.
    wait_code        TEXT,
    wait_until       TIMESTAMPTZ,
    idempotency_key  TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency_idx ON messages (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS messages_account_idx ON messages (account_id, id);
--bun:split
-- An account's queue (its backlog spreads the waits of refused sends).
CREATE INDEX IF NOT EXISTS messages_account_status_idx ON messages (account_id, status);
--bun:split
CREATE INDEX IF NOT EXISTS messages_batch_idx ON messages (batch_id, status);
--bun:split
CREATE INDEX IF NOT EXISTS messages_status_idx ON messages (status, id);
--bun:split
-- Recipients who wrote to the account (inbound messages): a send to anyone
-- else is a new chat and counts against the new-chats limit.
CREATE TABLE IF NOT EXISTS account_chats (
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The peer's number in E.164, or its JID when WhatsApp gave no number.
    peer             TEXT NOT NULL,
    first_inbound_at TIMESTAMPTZ NOT NULL,
    last_inbound_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, peer)
);
