-- Migrations are locked with a lock that dies with its holder (store/lock.go);
-- bun's lock table, whose rows outlived a kill -9, is no longer used.
DROP TABLE IF EXISTS bun_migration_locks;
