-- Personas' contact counts, stored (issue 11): the totalCount of
-- contacts(filter: {personaId}) and personas' contactCount sum a few rows
-- of persona_contact_counts instead of counting the persona's links (a
-- range of 100,000 index entries for a persona of a tenth of a million
-- contacts, most of the page's time). Triggers on contact_personas keep the
-- counts exact whoever writes the links (adding and removing by ids or
-- filter, imports, scrapes, merges, and the cascades of deleting contacts
-- or personas), in the statement that writes them.
--
-- On Postgres a persona's count is the sum of its rows here: every
-- statement that adds or removes links appends one row per persona it
-- touched (a statement-level trigger: one row for a bulk add of 100,000
-- links), so concurrent writers never wait for each other on a counter row
-- (a counter updated in place is locked until its writer commits: a scrape
-- linking a persona batch by batch and a bulk add to the same persona
-- would deadlock on each other's links). When a persona has 32 rows or
-- more, the statement folds the rows no one else is folding into one
-- (FOR UPDATE SKIP LOCKED: it never waits), so a count reads a few dozen
-- rows at most. SQLite has one writer at a time and row triggers only: one
-- row per persona, updated in place.
{{if .Postgres}}
CREATE TABLE IF NOT EXISTS persona_contact_counts (
    persona_id TEXT NOT NULL,
    n          BIGINT NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS persona_contact_counts_persona_idx ON persona_contact_counts (persona_id) INCLUDE (n);
--bun:split
INSERT INTO persona_contact_counts (persona_id, n) SELECT persona_id, count(*) FROM contact_personas GROUP BY persona_id;
--bun:split
CREATE OR REPLACE FUNCTION persona_contact_counts_fold(pid TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM persona_contact_counts WHERE persona_id = pid LIMIT 32) AS r) < 32 THEN
        RETURN;
    END IF;
    WITH folded AS (
        DELETE FROM persona_contact_counts WHERE ctid IN (
            SELECT ctid FROM persona_contact_counts WHERE persona_id = pid FOR UPDATE SKIP LOCKED)
        RETURNING n)
    INSERT INTO persona_contact_counts (persona_id, n) SELECT pid, sum(n) FROM folded HAVING count(*) > 0;
END
$$;
--bun:split
CREATE OR REPLACE FUNCTION persona_contact_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO persona_contact_counts (persona_id, n) SELECT persona_id, count(*) FROM added_links GROUP BY persona_id;
    PERFORM persona_contact_counts_fold(persona_id) FROM (SELECT DISTINCT persona_id FROM added_links) AS t;
    RETURN NULL;
END
$$;
--bun:split
-- Links removed with their persona (its deletion cascades) are not
-- recorded: the persona's rows went with it.
CREATE OR REPLACE FUNCTION persona_contact_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO persona_contact_counts (persona_id, n)
    SELECT l.persona_id, -count(*) FROM removed_links AS l
    WHERE EXISTS (SELECT 1 FROM personas AS p WHERE p.id = l.persona_id) GROUP BY l.persona_id;
    PERFORM persona_contact_counts_fold(persona_id) FROM (SELECT DISTINCT persona_id FROM removed_links) AS t
    WHERE EXISTS (SELECT 1 FROM personas AS p WHERE p.id = t.persona_id);
    RETURN NULL;
END
$$;
--bun:split
CREATE OR REPLACE FUNCTION persona_contact_counts_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM persona_contact_counts WHERE persona_id = OLD.id;
    RETURN NULL;
END
$$;
--bun:split
CREATE TRIGGER contact_personas_count_added AFTER INSERT ON contact_personas
    REFERENCING NEW TABLE AS added_links FOR EACH STATEMENT EXECUTE FUNCTION persona_contact_counts_added();
--bun:split
CREATE TRIGGER contact_personas_count_removed AFTER DELETE ON contact_personas
    REFERENCING OLD TABLE AS removed_links FOR EACH STATEMENT EXECUTE FUNCTION persona_contact_counts_removed();
--bun:split
CREATE TRIGGER personas_count_dropped AFTER DELETE ON personas
    FOR EACH ROW EXECUTE FUNCTION persona_contact_counts_dropped();
{{else}}
CREATE TABLE IF NOT EXISTS persona_contact_counts (
    persona_id TEXT PRIMARY KEY,
    n          BIGINT NOT NULL
);
--bun:split
INSERT INTO persona_contact_counts (persona_id, n) SELECT persona_id, count(*) FROM contact_personas GROUP BY persona_id;
--bun:split
CREATE TRIGGER IF NOT EXISTS contact_personas_count_added AFTER INSERT ON contact_personas FOR EACH ROW
BEGIN
    INSERT INTO persona_contact_counts (persona_id, n) VALUES (NEW.persona_id, 1)
        ON CONFLICT (persona_id) DO UPDATE SET n = n + 1;
END;
--bun:split
CREATE TRIGGER IF NOT EXISTS contact_personas_count_removed AFTER DELETE ON contact_personas FOR EACH ROW
BEGIN
    UPDATE persona_contact_counts SET n = n - 1 WHERE persona_id = OLD.persona_id;
END;
--bun:split
CREATE TRIGGER IF NOT EXISTS personas_count_dropped AFTER DELETE ON personas FOR EACH ROW
BEGIN
    DELETE FROM persona_contact_counts WHERE persona_id = OLD.id;
END;
{{end}}
