-- The contact base (issue 11): contacts, personas (audience segments), the
-- links between them, and every source a contact came from. The contacts
-- table keeps the admin app's name, mkt_wap_contacts.
--
-- A contact's identity is its E.164 number when known, else its LID: both
-- are unique where set (partial unique indexes), and every contact has one.
CREATE TABLE IF NOT EXISTS mkt_wap_contacts (
    id            TEXT PRIMARY KEY,
    phone_e164    TEXT,
    lid           TEXT,
    push_name     TEXT,
    full_name     TEXT,
    business_name TEXT,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    opted_out     BOOLEAN NOT NULL DEFAULT FALSE,
    opted_out_at  TIMESTAMPTZ,
    -- Free-form string attributes as a JSON object.
    attributes    {{if .Postgres}}JSONB NOT NULL DEFAULT '{}'::jsonb{{else}}TEXT NOT NULL DEFAULT '{}'{{end}},
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CHECK (phone_e164 IS NOT NULL OR lid IS NOT NULL)
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS mkt_wap_contacts_phone_idx ON mkt_wap_contacts (phone_e164) WHERE phone_e164 IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS mkt_wap_contacts_lid_idx ON mkt_wap_contacts (lid) WHERE lid IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_last_seen_idx ON mkt_wap_contacts (last_seen_at, id);
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_first_seen_idx ON mkt_wap_contacts (first_seen_at, id);
--bun:split
CREATE TABLE IF NOT EXISTS personas (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- Lower-cased name: two personas may not differ only in case.
    name_key    TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE IF NOT EXISTS contact_personas (
    persona_id TEXT NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES mkt_wap_contacts (id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (persona_id, contact_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS contact_personas_contact_idx ON contact_personas (contact_id);
--bun:split
-- Provenance: one row per contact and source (an account's group, an
-- import, an API call, WhatsApp itself), with when it was first and last
-- seen there. Empty strings, not NULLs, where a part does not apply, so the
-- unique key deduplicates. No foreign key to accounts: the history outlives
-- a deleted account.
CREATE TABLE IF NOT EXISTS contact_sources (
    contact_id    TEXT NOT NULL REFERENCES mkt_wap_contacts (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    account_id    TEXT NOT NULL DEFAULT '',
    group_jid     TEXT NOT NULL DEFAULT '',
    import_id     TEXT NOT NULL DEFAULT '',
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contact_id, kind, account_id, group_jid, import_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_account_idx ON contact_sources (account_id, group_jid);
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_group_idx ON contact_sources (group_jid);
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_import_idx ON contact_sources (import_id);
