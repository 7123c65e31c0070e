DROP TABLE IF EXISTS contact_import_errors;
--bun:split
DROP TABLE IF EXISTS contact_import_chunks;
--bun:split
DROP TABLE IF EXISTS contact_imports;
