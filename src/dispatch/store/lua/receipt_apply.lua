-- Apply final receipts to messages of one campaign.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] errors hash
-- KEYS[4..] receipt maps (the same list as given to receipt_lookup)
-- ARGV quints: number, final code ('d' | 'f' | 'x'), gateway id, reason, index in KEYS of
-- the receipt map holding the correlation (removed from it)
-- Returns {delivered, failed, expired, already final} counts.
local applied = {d = 0, f = 0, x = 0}
local repeated = 0
for i = 1, #ARGV, 5 do
  local number, code, gateway_id, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local map_key = KEYS[tonumber(ARGV[i + 4])]
  local state = redis.call('HGET', KEYS[1], number)
  if state and not FINAL[state] then
    transition(KEYS[1], KEYS[2], number, code)
    if code ~= 'd' then redis.call('HSET', KEYS[3], number, reason) end
    applied[code] = applied[code] + 1
  else
    repeated = repeated + 1
  end
  redis.call('HDEL', map_key, gateway_id)
end
return {applied.d, applied.f, applied.x, repeated}
