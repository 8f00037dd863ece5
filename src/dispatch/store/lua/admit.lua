-- Admit a batch of messages read from one campaign's stream, before they are sent.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] stream
-- KEYS[4..] opt-out scope sets that apply to this campaign's sender (all, its line)
-- ARGV[1] consumer group   ARGV[2] opt-out hash key
-- ARGV[3] msgpack of a flat list of pairs: entry id, number
-- Returns one flag per message: 1 = send it (now in_flight), 0 = nothing to send: already
-- submitted or final, no longer known, or opted out since it was queued (now suppressed);
-- those are acked and deleted here.
local flags, tally, done = {}, {}, {}
local items = cmsgpack.unpack(ARGV[3])
for i = 1, #items, 2 do
  local id, number = items[i], items[i + 1]
  local state = redis.call('HGET', KEYS[1], number)
  if (state == 'q' or state == 'i') and opted_out(ARGV[2], number, 4, #KEYS) then
    move(KEYS[1], tally, number, state, 'p')
    state = 'p'
  end
  if state == 'q' or state == 'i' then
    move(KEYS[1], tally, number, state, 'i')
    flags[#flags + 1] = 1
  else
    done[#done + 1] = id
    flags[#flags + 1] = 0
  end
end
write_tally(KEYS[2], tally)
ack_all(KEYS[3], ARGV[1], done)
return flags
