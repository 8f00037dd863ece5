-- enqueue.lua: queue one batch of messages of one campaign, skipping numbers it already has
-- and numbers that opted out. The state hash doubles as the dedupe set: a number is queued
-- only if HSETNX added it, so a re-run of the same file, or a number twice in it, queues
-- nothing twice. (The _states prelude is prepended: opted_out, STATE_NAMES.)
--
-- KEYS[1]  state hash   (E.164 number -> state code)
-- KEYS[2]  stream       (field "m" = msgpack [number, values])
-- KEYS[3]  counts hash  (state name -> messages in that state)
-- KEYS[4..] opt-out scope sets that apply to the campaign's sender
-- ARGV[1]  the state code of a queued message ("q")   ARGV[2] the opt-out hash key
-- ARGV[3], ARGV[4], ...  pairs: E.164 number, msgpack payload
-- Returns {accepted, duplicates, suppressed}. An opted-out number is recorded in the
-- campaign as suppressed (never queued) the first time, and counted suppressed every time.
local state_key, stream_key, counts_key = KEYS[1], KEYS[2], KEYS[3]
local queued_code = ARGV[1]
local accepted, duplicates, suppressed, newly_suppressed = 0, 0, 0, 0
for i = 3, #ARGV - 1, 2 do
  local number = ARGV[i]
  if opted_out(ARGV[2], number, 4, #KEYS) then
    suppressed = suppressed + 1
    if redis.call('HSETNX', state_key, number, 'p') == 1 then
      newly_suppressed = newly_suppressed + 1
    end
  elseif redis.call('HSETNX', state_key, number, queued_code) == 1 then
    redis.call('XADD', stream_key, '*', 'm', ARGV[i + 1])
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
if accepted > 0 then redis.call('HINCRBY', counts_key, 'queued', accepted) end
if newly_suppressed > 0 then
  redis.call('HINCRBY', counts_key, 'suppressed', newly_suppressed)
end
return {accepted, duplicates, suppressed}
