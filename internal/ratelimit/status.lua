-- Reports each limit's usage of a key; writes nothing.
-- KEYS and ARGV as in allow.lua.
-- Returns {now, then per limit: used, next free, reset (microseconds; 0 when
-- used is 0)}.
local log = KEYS[1]
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
if newest[2] then newest = tonumber(newest[2]) end

local out = {now}
for i = 2, #ARGV, 2 do
  local max, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local after = '(' .. string.format('%d', now - window)
  local used = redis.call('ZCOUNT', log, after, '+inf')
  local nextFree, reset = 0, 0
  if used > 0 then
    -- When full, room comes back as the max-th newest leaves; otherwise as
    -- the oldest in the window does.
    local skip = math.max(0, used - max)
    local e = redis.call('ZRANGE', log, after, '+inf', 'BYSCORE', 'LIMIT', skip, 1, 'WITHSCORES')
    nextFree = tonumber(e[2]) + window
    reset = newest + window
  end
  out[#out + 1] = used
  out[#out + 1] = nextFree
  out[#out + 1] = reset
end
return out
