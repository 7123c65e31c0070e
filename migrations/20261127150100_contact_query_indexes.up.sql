-- Indexes for the contacts query at a million contacts (bench/contacts,
-- docs/benchmarks.md). The provenance indexes carry the contact id, so a
-- filter by account or group is answered from the index alone (its count
-- and its pages in contact order); the partial indexes hold only the few
-- contacts opted out or without a number, so they cost imports nothing.
-- Building them locks writes to the tables for a few seconds at a million
-- rows.
DROP INDEX IF EXISTS contact_sources_account_idx;
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_account_contact_idx ON contact_sources (account_id, group_jid, contact_id);
--bun:split
DROP INDEX IF EXISTS contact_sources_group_idx;
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_group_contact_idx ON contact_sources (group_jid, contact_id);
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_opted_out_idx ON mkt_wap_contacts (id) WHERE opted_out;
--bun:split
CREATE INDEX IF NOT EXISTS mkt_wap_contacts_no_phone_idx ON mkt_wap_contacts (id) WHERE phone_e164 IS NULL;
