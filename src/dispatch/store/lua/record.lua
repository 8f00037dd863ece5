-- Record the outcome of a batch of submissions of one campaign, then ack them.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] stream   KEYS[4] errors hash
-- KEYS[5] this hour's receipt map   KEYS[6] orphan receipts hash
-- ARGV[1] consumer group   ARGV[2] campaign id   ARGV[3] receipt map TTL (s)
-- ARGV[4] msgpack of a flat list of quads: stream entry id, number, outcome, and the
--         gateway id (for 's' submitted) or the reason (a final code: 'f' failed,
--         'x' expired by the deadline, 'p' suppressed: opted out while waiting,
--         'c' cancelled, 'd' delivered: a call answered); see store/scripts.py `packed`.
--         The reason of a message that did not end delivered goes to the errors hash.
-- ARGV[5] when the batch was accepted, in deciseconds since the start of KEYS[5]'s hour
--         (receipt_record.lua tells a receipt's latency from it; absent: not stamped)
-- The receipt correlation ("campaign<TAB>number<TAB>ARGV[5]") is written here, in the same
-- step as the state, and a receipt that arrived before it (parked as an orphan) is applied
-- at once.
-- Returns {submitted, ended otherwise (failed, expired, suppressed, cancelled, or a call
-- delivered), receipts applied from orphans}.
local submitted, failed, adopted = 0, 0, 0
local tally, ids = {}, {}
local stamp = ARGV[5] and ('\t' .. ARGV[5]) or ''
-- Receipts that overtake their submission's record are rare: look for one only when some
-- are parked.
local orphans_parked = redis.call('HLEN', KEYS[6]) > 0
local items = cmsgpack.unpack(ARGV[4])
for i = 1, #items, 4 do
  local id, number, outcome, detail = items[i], items[i + 1], items[i + 2], items[i + 3]
  local state = redis.call('HGET', KEYS[1], number)
  if state == 'q' or state == 'i' then
    if outcome == 's' then
      move(KEYS[1], tally, number, state, 's')
      submitted = submitted + 1
      local orphan = orphans_parked and redis.call('HGET', KEYS[6], detail)
      if orphan then
        local code, reason = string.match(orphan, '^(%a)\t(.*)$')
        apply_final(KEYS[1], tally, KEYS[4], number, code, reason)
        redis.call('HDEL', KEYS[6], detail)
        adopted = adopted + 1
      else
        redis.call('HSET', KEYS[5], detail, ARGV[2] .. '\t' .. number .. stamp)
      end
    else
      move(KEYS[1], tally, number, state, outcome)
      if outcome ~= 'd' then redis.call('HSET', KEYS[4], number, detail) end
      failed = failed + 1
    end
  end
  ids[#ids + 1] = id
end
write_tally(KEYS[2], tally)
ack_all(KEYS[3], ARGV[1], ids)
if submitted > adopted then redis.call('EXPIRE', KEYS[5], ARGV[3]) end
return {submitted, failed, adopted}
