ALTER TABLE accounts DROP COLUMN revision;
