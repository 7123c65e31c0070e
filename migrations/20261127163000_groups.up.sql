-- Groups and group scraping (issue 11): the WhatsApp groups each account is
-- in and their participants, as last read from WhatsApp (refreshGroups, a
-- scrape), so listing never waits on WhatsApp; and the scrape jobs with
-- their progress, kept per job so it survives restarts.
CREATE TABLE IF NOT EXISTS wa_groups (
    account_id        TEXT NOT NULL,
    jid               TEXT NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    topic             TEXT NOT NULL DEFAULT '',
    participant_count INTEGER NOT NULL DEFAULT 0,
    is_announce       BOOLEAN NOT NULL DEFAULT FALSE,
    is_community      BOOLEAN NOT NULL DEFAULT FALSE,
    -- "pn" or "lid": whether WhatsApp lists the members by number or by LID.
    addressing_mode   TEXT NOT NULL DEFAULT '',
    refreshed_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, jid)
);
--bun:split
CREATE INDEX IF NOT EXISTS wa_groups_name_idx ON wa_groups (account_id, name, jid);
--bun:split
-- One row per member as WhatsApp listed it (jid: the number or the LID);
-- phone_e164 and lid empty where unknown.
CREATE TABLE IF NOT EXISTS wa_group_participants (
    account_id     TEXT NOT NULL,
    group_jid      TEXT NOT NULL,
    jid            TEXT NOT NULL,
    phone_e164     TEXT NOT NULL DEFAULT '',
    lid            TEXT NOT NULL DEFAULT '',
    display_name   TEXT NOT NULL DEFAULT '',
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    is_super_admin BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account_id, group_jid, jid),
    FOREIGN KEY (account_id, group_jid) REFERENCES wa_groups (account_id, jid) ON DELETE CASCADE
);
--bun:split
CREATE INDEX IF NOT EXISTS wa_group_participants_lid_idx ON wa_group_participants (lid);
--bun:split
-- A scrape job; id is its River job's id. Counters are written in the same
-- transaction as each group's contacts, so they never count a group twice.
CREATE TABLE IF NOT EXISTS scrape_jobs (
    id                    BIGINT PRIMARY KEY,
    account_id            TEXT NOT NULL,
    all_groups            BOOLEAN NOT NULL DEFAULT FALSE,
    -- The groups to scrape are listed in scrape_job_groups (for all_groups,
    -- once the job has read the account's groups from WhatsApp).
    targets_ready         BOOLEAN NOT NULL DEFAULT FALSE,
    persona_ids           TEXT NOT NULL DEFAULT '[]',
    state                 TEXT NOT NULL,
    groups_total          INTEGER NOT NULL DEFAULT 0,
    groups_done           INTEGER NOT NULL DEFAULT 0,
    members_seen          INTEGER NOT NULL DEFAULT 0,
    contacts_created      INTEGER NOT NULL DEFAULT 0,
    contacts_updated      INTEGER NOT NULL DEFAULT 0,
    contacts_merged       INTEGER NOT NULL DEFAULT 0,
    members_without_phone INTEGER NOT NULL DEFAULT 0,
    errors                INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT NOT NULL DEFAULT '',
    -- Consecutive rate-overlimit answers: the backoff doubles with each.
    rate_limited          INTEGER NOT NULL DEFAULT 0,
    resume_at             TIMESTAMPTZ,
    -- Grows by one with every change published (scrapeProgress versions).
    version               BIGINT NOT NULL DEFAULT 1,
    created_at            TIMESTAMPTZ NOT NULL,
    started_at            TIMESTAMPTZ,
    finished_at           TIMESTAMPTZ,
    updated_at            TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS scrape_jobs_account_idx ON scrape_jobs (account_id, id);
--bun:split
-- The groups of a scrape job: done_at set (in the group's transaction) is
-- the checkpoint a resumed job skips.
CREATE TABLE IF NOT EXISTS scrape_job_groups (
    scrape_id BIGINT NOT NULL REFERENCES scrape_jobs (id) ON DELETE CASCADE,
    group_jid TEXT NOT NULL,
    done_at   TIMESTAMPTZ,
    members   INTEGER NOT NULL DEFAULT 0,
    error     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scrape_id, group_jid)
);
