DROP TABLE IF EXISTS account_status_history;
--bun:split
DROP TABLE IF EXISTS accounts;
