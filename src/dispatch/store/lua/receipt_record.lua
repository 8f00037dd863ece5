-- Record final receipts: find each one's message and apply it, in one round trip; park
-- the ones not (yet) known as orphans (record.lua applies an orphan when its submission
-- is recorded). The sweeper's expiries come this way too, without parking.
-- KEYS[1] orphans hash   KEYS[2..] receipt maps, newest hour first
-- ARGV[1] orphan TTL (s)   ARGV[2] the head of campaign keys (Keys.campaign_head)
-- ARGV[3] '1': park unknown receipts, '0': skip them
-- ARGV[4] msgpack of a flat list of triples: gateway id, final code ('d' | 'f' | 'x'),
--         reason
-- A receipt's campaign is known only once its correlation is found, so its keys are built
-- here (head .. id .. '}:state'): the keys of one campaign share a hash tag, but receipts
-- of several campaigns in one call do not, which a Redis Cluster would refuse.
-- Returns {delivered, failed, expired, repeated (message already final), parked}.
local applied = {d = 0, f = 0, x = 0}
local repeated, parked = 0, 0
local tallies = {}  -- counts hash -> tally, one per campaign met
local items = cmsgpack.unpack(ARGV[4])
for i = 1, #items, 3 do
  local gateway_id, code, reason = items[i], items[i + 1], items[i + 2]
  local target, map_key = false, nil
  for k = 2, #KEYS do
    target = redis.call('HGET', KEYS[k], gateway_id)
    if target then
      map_key = KEYS[k]
      break
    end
  end
  if target then
    local campaign, number = string.match(target, '^([^\t]*)\t(.*)$')
    local base = ARGV[2] .. campaign .. '}:'
    local counts_key = base .. 'counts'
    tallies[counts_key] = tallies[counts_key] or {}
    if apply_final(base .. 'state', tallies[counts_key], base .. 'errors', number, code,
                   reason) then
      applied[code] = applied[code] + 1
    else
      repeated = repeated + 1
    end
    redis.call('HDEL', map_key, gateway_id)
  elseif ARGV[3] == '1' then
    redis.call('HSET', KEYS[1], gateway_id, code .. '\t' .. reason)
    parked = parked + 1
  end
end
for counts_key, tally in pairs(tallies) do write_tally(counts_key, tally) end
if parked > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {applied.d, applied.f, applied.x, repeated, parked}
