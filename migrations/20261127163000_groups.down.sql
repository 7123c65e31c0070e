DROP TABLE IF EXISTS scrape_job_groups;
--bun:split
DROP TABLE IF EXISTS scrape_jobs;
--bun:split
DROP TABLE IF EXISTS wa_group_participants;
--bun:split
DROP TABLE IF EXISTS wa_groups;
