-- Admit a batch of messages read from one campaign's stream, before they are sent.
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] stream
-- ARGV[1] consumer group; ARGV[2..] pairs: stream entry id, E.164 number
-- Returns one flag per message: 1 = send it (now in_flight), 0 = nothing left to send
-- (already submitted or final, or no longer known): acked and deleted here.
local flags = {}
for i = 2, #ARGV, 2 do
  local id, number = ARGV[i], ARGV[i + 1]
  local state = redis.call('HGET', KEYS[1], number)
  if state == 'q' or state == 'i' then
    transition(KEYS[1], KEYS[2], number, 'i')
    flags[#flags + 1] = 1
  else
    ack(KEYS[3], ARGV[1], id)
    flags[#flags + 1] = 0
  end
end
return flags
