-- Record the outcome of a batch of submissions of one campaign, then ack them.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] stream   KEYS[4] errors hash
-- ARGV[1] consumer group
-- ARGV[2] msgpack of a flat list of quads: stream entry id, number, outcome, and the
--         gateway id (for 's' submitted) or the reason (a final code: 'f' failed,
--         'x' expired by the deadline, 'p' suppressed: opted out while waiting,
--         'c' cancelled, 'd' delivered: a call answered); see store/scripts.py `packed`.
--         The reason of a message that did not end delivered goes to the errors hash.
-- ARGV[3] msgpack of a flat list of triples: gateway id, final code, reason: receipts
--         that arrived before their submission was recorded (parked as orphans), applied
--         here to the submission they belong to.
-- The receipt correlations of the submissions were written just before, in the receipt
-- map (receipt_expect.lua: its keys are in another cluster slot). A crash between the two
-- leaves correlations of messages still in flight, which are sent again: a receipt of the
-- first sending then finishes the message (receipt_apply.lua), the second's is repeated.
-- Returns {submitted, ended otherwise (failed, expired, suppressed, cancelled, or a call
-- delivered), receipts applied from orphans}.
local submitted, failed, adopted = 0, 0, 0
local tally, ids = {}, {}
local orphans = {}
local early = cmsgpack.unpack(ARGV[3])
for i = 1, #early, 3 do orphans[early[i]] = {early[i + 1], early[i + 2]} end
local items = cmsgpack.unpack(ARGV[2])
local states = load_states(KEYS[1], items, 2, 4)
for i = 1, #items, 4 do
  local id, number, outcome, detail = items[i], items[i + 1], items[i + 2], items[i + 3]
  local state = states.now[number]
  if state == 'q' or state == 'i' then
    if outcome == 's' then
      move(states, tally, number, 's')
      submitted = submitted + 1
      local orphan = orphans[detail]
      if orphan then
        apply_final(states, tally, KEYS[4], number, orphan[1], orphan[2])
        adopted = adopted + 1
      end
    else
      move(states, tally, number, outcome)
      if outcome ~= 'd' then redis.call('HSET', KEYS[4], number, detail) end
      failed = failed + 1
    end
  end
  ids[#ids + 1] = id
end
save_states(states)
write_tally(KEYS[2], tally)
ack_all(KEYS[3], ARGV[1], ids)
return {submitted, failed, adopted}
