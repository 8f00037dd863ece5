-- Expect the receipts of a batch of submissions of one campaign: each one's correlation
-- ("campaign<TAB>number<TAB>when") in this hour's receipt map, unless its receipt came
-- first (parked as an orphan): those are returned, for record.lua to apply. Called just
-- before record.lua (the campaign's keys are in another cluster slot).
-- KEYS[1] this hour's receipt map   KEYS[2] orphan receipts hash
-- ARGV[1] receipt map TTL (s)   ARGV[2] campaign id
-- ARGV[3] when the batch was accepted, in deciseconds since the start of KEYS[1]'s hour
--         (receipt_apply.lua tells a receipt's latency from it; '': not stamped)
-- ARGV[4] msgpack of a flat list of pairs: gateway id, number
-- Returns a flat list of triples: gateway id, final code, reason of the orphans found
-- (left parked: record.lua's caller deletes them once applied).
local stamp = ARGV[3] ~= '' and ('\t' .. ARGV[3]) or ''
-- Receipts that overtake their submission's record are rare: look for one only when some
-- are parked.
local orphans_parked = redis.call('HLEN', KEYS[2]) > 0
local found, expected, correlations = {}, 0, {}
local items = cmsgpack.unpack(ARGV[4])
for i = 1, #items, 2 do
  local gateway_id, number = items[i], items[i + 1]
  local orphan = orphans_parked and redis.call('HGET', KEYS[2], gateway_id)
  if orphan then
    local code, reason = string.match(orphan, '^(%a)\t(.*)$')
    found[#found + 1] = gateway_id
    found[#found + 1] = code
    found[#found + 1] = reason
  else
    correlations[gateway_id] = ARGV[2] .. '\t' .. number .. stamp
    expected = expected + 1
  end
end
if expected > 0 then
  hset_all(KEYS[1], correlations)
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return found
