-- Find which message each receipt is for; park the ones not (yet) known as orphans.
-- KEYS[1] orphans hash   KEYS[2..] receipt maps, newest hour first
-- ARGV[1] orphan TTL (s); ARGV[2..] pairs: gateway id, 'code\treason'
-- Returns, per receipt, 'campaign\tnumber\tK' (K: the index in KEYS of the map it is in)
-- or false when parked. The correlation is
-- removed only when the receipt is applied (receipt_apply), so a crash in between loses
-- nothing: the gateway resends the receipt we did not acknowledge.
local found = {}
local parked = 0
for i = 2, #ARGV, 2 do
  local target = false
  for k = 2, #KEYS do
    local found_here = redis.call('HGET', KEYS[k], ARGV[i])
    if found_here then
      target = found_here .. '\t' .. k
      break
    end
  end
  if not target then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    parked = parked + 1
  end
  found[#found + 1] = target
end
if parked > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return found
