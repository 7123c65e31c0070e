DROP INDEX IF EXISTS mkt_wap_contacts_phone_trgm_idx;
--bun:split
DROP INDEX IF EXISTS mkt_wap_contacts_names_trgm_idx;
