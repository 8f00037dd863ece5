-- Cancel the queued messages of a campaign, a chunk of numbers at a time.
-- KEYS[1] state hash   KEYS[2] counts hash
-- ARGV: numbers. Only queued ones change (to cancelled); messages in flight are settled by
-- the daemon that holds them (cancelled if not yet submitted), the others are final.
-- Returns how many were cancelled.
local cancelled, tally = 0, {}
local states = load_states(KEYS[1], ARGV, 1, 1)
for i = 1, #ARGV do
  if states.now[ARGV[i]] == 'q' then
    move(states, tally, ARGV[i], 'c')
    cancelled = cancelled + 1
  end
end
save_states(states)
write_tally(KEYS[2], tally)
return cancelled
