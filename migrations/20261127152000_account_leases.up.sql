-- Several instances on one database (issue 13): each account with a live
-- session is run by one instance, which holds its lease. Times are Unix
-- milliseconds of the instances' clocks (kept in step by NTP), so both
-- dialects compare them as numbers.
--
-- instances: every running instance, with its last heartbeat; placement
-- picks among those whose heartbeat is recent and that are not draining.
CREATE TABLE IF NOT EXISTS instances (
    id           TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    draining     BOOLEAN NOT NULL DEFAULT FALSE
);
--bun:split
-- account_leases: owner NULL when released (drain, rebalance); a lease whose
-- expires_at has passed has lapsed and may be taken over. epoch grows by one
-- with every change of owner and fences the session-state writes
-- (accounts UPDATE ... WHERE EXISTS lease with that epoch).
CREATE TABLE IF NOT EXISTS account_leases (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    owner       TEXT,
    epoch       BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS account_leases_owner_idx ON account_leases (owner);
