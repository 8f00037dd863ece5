-- Admit a batch of messages read from one campaign's stream, before they are sent.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] stream
-- ARGV[1] consumer group   ARGV[2] msgpack of a flat list of pairs: entry id, number
-- Returns one flag per message: 1 = send it (now in_flight), 0 = nothing to send: already
-- submitted or final, or no longer known; those are acked and deleted here.
-- Opt-outs are not looked at here: the senders' last check before the gateway
-- (optout_lines.lua) sees every one, and their keys are in another cluster slot.
local flags, tally, done = {}, {}, {}
local items = cmsgpack.unpack(ARGV[2])
local states = load_states(KEYS[1], items, 2, 2)
for i = 1, #items, 2 do
  local id, number = items[i], items[i + 1]
  local state = states.now[number]
  if state == 'q' or state == 'i' then
    move(states, tally, number, 'i')
    flags[#flags + 1] = 1
  else
    done[#done + 1] = id
    flags[#flags + 1] = 0
  end
end
save_states(states)
write_tally(KEYS[2], tally)
ack_all(KEYS[3], ARGV[1], done)
return flags
