-- Find the submissions final receipts belong to, in the receipt maps; park the ones not
-- (yet) known as orphans (receipt_expect.lua finds an orphan when its submission is
-- recorded). The sweeper's expiries come this way too, without parking.
-- Step 1 of 3 (store/receipts.py): the receipts are then applied per campaign
-- (receipt_apply.lua, the campaign's cluster slot), and only then are the correlations
-- forgotten: by the next call of this script (ARGV[4]), or receipt_forget.lua. A crash in
-- between leaves correlations whose receipts are applied again, found final, counted
-- repeated (the sweeper's expiries too); never a receipt lost.
-- KEYS[1] orphans hash   KEYS[2..] receipt maps, newest hour first, one hour apart
-- ARGV[1] orphan TTL (s)
-- ARGV[2] how many receipts the orphans hash may hold: unknown receipts are parked while
--         it has room, counted dropped beyond; '0': skip them (the sweeper's expiries)
-- ARGV[3] msgpack of a flat list of triples: gateway id, final code ('d' | 'f' | 'x'),
--         reason
-- ARGV[4] (optional) msgpack of a flat list of pairs: index in KEYS of a receipt map, a
--         gateway id whose receipt was applied since: deleted after the lookups
-- The orphans hash expires ARGV[1] after it was created, not after each park: forged
-- receipts must not keep it alive. A real orphan is adopted within the record delay, and
-- the hash, emptied, goes: the next one starts a new hash and a new TTL.
-- Returns {found, parked, dropped (unknown, no room to park)} where found is a flat list
-- of pairs: the receipt's position in ARGV[3] (from 1), then the index in KEYS of the map
-- that holds its correlation, then the correlation ("campaign<TAB>number[<TAB>stamp]").
local parked, dropped = 0, 0
local room = 0
if ARGV[2] ~= '0' then room = tonumber(ARGV[2]) - redis.call('HLEN', KEYS[1]) end
local found = {}
local items = cmsgpack.unpack(ARGV[3])
-- Each receipt's correlation in the newest map that holds it: the maps looked up in turn,
-- newest first, each with one HMGET of the receipts no newer map held.
local targets, map_of, missing = {}, {}, {}
for r = 1, #items / 3 do missing[r] = r end
for k = 2, #KEYS do
  if #missing == 0 then break end
  local ids = {}
  for j = 1, #missing do ids[j] = items[missing[j] * 3 - 2] end
  local values = lookup_all('HMGET', KEYS[k], ids)
  local still = {}
  for j = 1, #missing do
    if values[j] then
      targets[missing[j]], map_of[missing[j]] = values[j], k
    else
      still[#still + 1] = missing[j]
    end
  end
  missing = still
end
for i = 1, #items, 3 do
  local gateway_id = items[i]
  local r = (i + 2) / 3
  local target = targets[r]
  if target then
    found[#found + 1] = r
    found[#found + 1] = map_of[r]
    found[#found + 1] = target
  elseif room > 0 then
    redis.call('HSET', KEYS[1], gateway_id, items[i + 1] .. '\t' .. items[i + 2])
    parked, room = parked + 1, room - 1
  elseif ARGV[2] ~= '0' then
    dropped = dropped + 1
  end
end
-- After the lookups: a receipt repeated before its first's correlation was forgotten is
-- found, and counted repeated rather than parked.
if ARGV[4] then hdel_pairs(KEYS, cmsgpack.unpack(ARGV[4])) end
if parked > 0 and redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {found, parked, dropped}
