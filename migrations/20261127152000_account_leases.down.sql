DROP TABLE IF EXISTS account_leases;
--bun:split
DROP TABLE IF EXISTS instances;
