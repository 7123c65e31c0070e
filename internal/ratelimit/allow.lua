-- Admits one action for a key if every limit has room, atomically.
-- KEYS[1]  the key's log: a sorted set of admission times, in microseconds
--          on Redis's clock, as scores.
-- ARGV[1]  "" to use Redis's clock (TIME); a time in microseconds in tests.
-- ARGV[2k], ARGV[2k+1]  limit k: max and window in microseconds, shortest
--          window first.
-- Returns {admitted 0|1, now, index of the refusing limit (1-based) or 0,
-- retry after in microseconds}. A refusal writes nothing.
local log = KEYS[1]
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- Scores order the log, so a clock that went back (a failover) needs no
-- care: admissions after now count in every window, which only refuses more.

local size, retry, refused, atSize = 0, 0, 0, false
local longest = tonumber(ARGV[#ARGV])
for i = 2, #ARGV, 2 do
  local max, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  -- The limit is full while its max-th newest admission is in the window.
  local e = redis.call('ZRANGE', log, -max, -max, 'WITHSCORES')
  if max > size then size, atSize = max, e[2] ~= nil end
  if e[2] then
    local t = tonumber(e[2])
    if t > now - window and t + window - now > retry then
      retry, refused = t + window - now, i / 2
    end
  end
end
if refused > 0 then
  return {0, now, refused, retry}
end

local member, seq = string.format('%d', now), 0
while redis.call('ZADD', log, 'NX', now, member) == 0 do
  seq = seq + 1
  member = string.format('%d-%d', now, seq)
end
-- No decision needs more than the newest size admissions (size: the largest
-- max): when the log held size already, the oldest go (more than one when
-- the limits were lowered). Entries older than the longest window go the
-- same way, and the whole log expires once its newest is out of the
-- longest window.
if atSize then redis.call('ZREMRANGEBYRANK', log, 0, -(size + 1)) end
redis.call('PEXPIRE', log, math.ceil(longest / 1000))
return {1, now, 0, 0}
