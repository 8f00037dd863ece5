-- Apply final receipts to messages of one campaign.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] errors hash
-- KEYS[4..6] receipt maps of today, yesterday, the day before
-- ARGV quads: number, final code ('d' | 'f' | 'x'), gateway id, reason
-- Returns {delivered, failed, expired, already final} counts.
local applied = {d = 0, f = 0, x = 0}
local repeated = 0
for i = 1, #ARGV, 4 do
  local number, code, gateway_id, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local state = redis.call('HGET', KEYS[1], number)
  if state and not FINAL[state] then
    transition(KEYS[1], KEYS[2], number, code)
    if code ~= 'd' then redis.call('HSET', KEYS[3], number, reason) end
    applied[code] = applied[code] + 1
  else
    repeated = repeated + 1
  end
  for k = 4, 6 do redis.call('HDEL', KEYS[k], gateway_id) end
end
return {applied.d, applied.f, applied.x, repeated}
