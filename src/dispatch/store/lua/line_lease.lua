-- One lease cycle of one daemon on one pool: heartbeat, renew the slices of lines it
-- holds, give back those it asks to (it no longer uses them), then take free or expired
-- slices up to its fair share (slices / live daemons, rounded up). A daemon holding more
-- than its share keeps them until it gives them back (it must stop using them first).
-- KEYS[1] hash slice -> "<owner>\t<expiry ms>"   KEYS[2] zset daemon -> heartbeat expiry
-- ARGV[1] this daemon   ARGV[2] now in ms ("": the server's clock)   ARGV[3] ttl in ms
-- ARGV[4] slices in the pool   ARGV[5..] slices to give back
-- Returns {fair share, held slice, held slice, ...}.
local me, ttl, slices = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
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
for i = 5, #ARGV do giving[ARGV[i]] = true end
local held, free = {}, {}
for s = 0, slices - 1 do
  local field = tostring(s)
  local value = redis.call('HGET', KEYS[1], field)
  local owner, until_ms = nil, 0
  if value then
    local tab = string.find(value, '\t', 1, true)
    owner, until_ms = string.sub(value, 1, tab - 1), tonumber(string.sub(value, tab + 1))
  end
  if owner == me and giving[field] then
    redis.call('HDEL', KEYS[1], field)
  elseif owner == me then
    held[#held + 1] = s
  elseif owner == nil or until_ms <= now then
    free[#free + 1] = s
  end
end
for i = 1, #free do
  if #held >= share then break end
  held[#held + 1] = free[i]
end
for i = 1, #held do
  redis.call('HSET', KEYS[1], tostring(held[i]), me .. '\t' .. expiry)
end
table.insert(held, 1, share)
return held
