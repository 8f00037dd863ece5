-- Cancel the queued messages of a campaign, a chunk of numbers at a time.
-- KEYS[1] state hash   KEYS[2] counts hash
-- ARGV: numbers. Only queued ones change (to cancelled); messages in flight are settled by
-- the daemon that holds them (cancelled if not yet submitted), the others are final.
-- Returns how many were cancelled.
local cancelled, tally = 0, {}
for i = 1, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == 'q' then
    move(KEYS[1], tally, ARGV[i], 'q', 'c')
    cancelled = cancelled + 1
  end
end
write_tally(KEYS[2], tally)
return cancelled
