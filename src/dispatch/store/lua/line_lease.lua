-- One lease cycle of one daemon on one pool: heartbeat, renew the slices of lines it
-- holds, give back those it asks to (it no longer uses them), then take free or expired
-- slices up to its fair share (slices / live daemons, rounded up). A daemon holding more
-- than its share keeps them until it gives them back (it must stop using them first).
-- A slice taken is "rested" when no daemon held it for at least ARGV[5] ms (or ever):
-- its lines' buckets are full again at the gateway.
-- KEYS[1] hash slice -> "<owner>\t<expiry ms>" (owner "" once given back)
-- KEYS[2] zset daemon -> heartbeat expiry
-- ARGV[1] this daemon   ARGV[2] now in ms ("": the server's clock)   ARGV[3] ttl in ms
-- ARGV[4] slices in the pool   ARGV[5] rest in ms   ARGV[6..] slices to give back
-- Returns {fair share, slice, rested (1/0), slice, rested, ...} for every slice held.
local me, ttl, slices, rest = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = tonumber(ARGV[2])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
local expiry = now + ttl
redis.call('ZADD', KEYS[2], expiry, me)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local share = math.ceil(slices / redis.call('ZCARD', KEYS[2]))
local giving = {}
for i = 6, #ARGV do giving[ARGV[i]] = true end
local held, free = {}, {}
for s = 0, slices - 1 do
  local field = tostring(s)
  local value = redis.call('HGET', KEYS[1], field)
  local owner, until_ms = '', -math.huge
  if value then
    local tab = string.find(value, '\t', 1, true)
    owner, until_ms = string.sub(value, 1, tab - 1), tonumber(string.sub(value, tab + 1))
  end
  if owner == me and giving[field] then
    redis.call('HSET', KEYS[1], field, '\t' .. now)
  elseif owner == me then
    held[#held + 1] = {s, 0}
  elseif owner == '' or until_ms <= now then
    free[#free + 1] = {s, (until_ms + rest <= now) and 1 or 0}
  end
end
for i = 1, #free do
  if #held >= share then break end
  held[#held + 1] = free[i]
end
local reply = {share}
for i = 1, #held do
  redis.call('HSET', KEYS[1], tostring(held[i][1]), me .. '\t' .. expiry)
  reply[#reply + 1] = held[i][1]
  reply[#reply + 1] = held[i][2]
end
return reply
