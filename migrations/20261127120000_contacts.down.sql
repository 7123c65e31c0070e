DROP TABLE IF EXISTS contact_sources;
--bun:split
DROP TABLE IF EXISTS contact_personas;
--bun:split
DROP TABLE IF EXISTS personas;
--bun:split
DROP TABLE IF EXISTS mkt_wap_contacts;
