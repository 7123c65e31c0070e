DROP TRIGGER IF EXISTS contact_personas_count_added{{if .Postgres}} ON contact_personas{{end}};
--bun:split
DROP TRIGGER IF EXISTS contact_personas_count_removed{{if .Postgres}} ON contact_personas{{end}};
--bun:split
DROP TRIGGER IF EXISTS personas_count_dropped{{if .Postgres}} ON personas{{end}};
{{if .Postgres}}
--bun:split
DROP FUNCTION IF EXISTS persona_contact_counts_added();
--bun:split
DROP FUNCTION IF EXISTS persona_contact_counts_removed();
--bun:split
DROP FUNCTION IF EXISTS persona_contact_counts_dropped();
--bun:split
DROP FUNCTION IF EXISTS persona_contact_counts_fold(TEXT);
{{end}}
--bun:split
DROP TABLE IF EXISTS persona_contact_counts;
