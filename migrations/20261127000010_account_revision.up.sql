-- revision grows by one with every change of an account that is published
-- (a status change, or a rename, push name or phone number), so live views
-- can order every event and tell when one was lost. version keeps counting
-- status changes only (the history rows).
ALTER TABLE accounts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
--bun:split
UPDATE accounts SET revision = version;
