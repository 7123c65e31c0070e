-- Trigram indexes for the contacts search (issue 11), Postgres only: a
-- search for part of a name or number was a LIKE '%…%' over every contact
-- (a second at a million contacts). pg_trgm's GIN indexes answer LIKE with
-- a wildcard on both sides from the trigrams of the searched text. The
-- names index is over the one expression the query searches on Postgres
-- (searchNames in internal/contact/search.go): the lower-cased full, push
-- and business names joined by a control character, which neither names
-- nor searches contain, so a match never spans two names. Searches of
-- fewer than three characters have no trigram to look up and still scan.
-- pg_trgm is a trusted extension (Postgres 13 and later): the database's
-- owner may create it. SQLite keeps its scan.
{{if .Postgres}}
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_names_trgm_idx ON mkt_wap_contacts USING gin
    (lower(coalesce(full_name, '') || E'\x01' || coalesce(push_name, '') || E'\x01' || coalesce(business_name, '')) gin_trgm_ops);
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_phone_trgm_idx ON mkt_wap_contacts USING gin (phone_e164 gin_trgm_ops);
{{end}}
