-- A daemon leaving a pool cleanly (its senders done, nothing out on its lines): every
-- slice it holds is given back now, so another daemon takes it at its next cycle instead
-- of after the lease expires, and its heartbeat goes, so the others' fair share grows.
-- A slice given back counts as driven until now: its next holder starts with empty
-- buckets unless it stays free for the rest time (see line_lease.lua).
-- KEYS[1] hash slice -> "<owner>\t<expiry ms>"   KEYS[2] zset daemon -> heartbeat expiry
-- ARGV[1] this daemon   ARGV[2] now in ms ("": the server's clock)
-- Returns the number of slices given back.
local me = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
redis.call('ZREM', KEYS[2], me)
local leases, given = redis.call('HGETALL', KEYS[1]), 0
for i = 1, #leases, 2 do
  local value = leases[i + 1]
  if string.sub(value, 1, string.find(value, '\t', 1, true) - 1) == me then
    redis.call('HSET', KEYS[1], leases[i], '\t' .. now)
    given = given + 1
  end
end
return given
