-- Send lanes (issue 12, internal/message/lanes.go): each account's send
-- jobs go to one of 32 River queues, its lane, so one account's batch holds
-- up at most its own lane. An account gets a lane the first time it queues
-- a message, the one with the fewest accounts then, and keeps it.
CREATE TABLE IF NOT EXISTS send_lanes (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    lane       INTEGER NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS send_lanes_lane_idx ON send_lanes (lane);
