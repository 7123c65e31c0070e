DROP INDEX IF EXISTS mkt_wap_contacts_no_phone_idx;
--bun:split
DROP INDEX IF EXISTS mkt_wap_contacts_opted_out_idx;
--bun:split
DROP INDEX IF EXISTS contact_sources_group_contact_idx;
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_group_idx ON contact_sources (group_jid);
--bun:split
DROP INDEX IF EXISTS contact_sources_account_contact_idx;
--bun:split
CREATE INDEX IF NOT EXISTS contact_sources_account_idx ON contact_sources (account_id, group_jid);
