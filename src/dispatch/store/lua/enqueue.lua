-- enqueue.lua: queue one batch of messages of one campaign, skipping numbers it already has.
-- The state hash doubles as the dedupe set: a number is queued only if HSETNX added it, so
-- a re-run of the same file, or a number twice in it, queues nothing twice.
--
-- KEYS[1]  state hash   (E.164 number -> state code)
-- KEYS[2]  stream       (field "m" = msgpack [number, values])
-- KEYS[3]  counts hash  (state name -> messages in that state)
-- ARGV[1]  the state code of a queued message ("q")
-- ARGV[2], ARGV[3], ...  pairs: E.164 number, msgpack payload
-- Returns {accepted, duplicates}.
local state_key, stream_key, counts_key = KEYS[1], KEYS[2], KEYS[3]
local queued_code = ARGV[1]
local accepted, duplicates = 0, 0
for i = 2, #ARGV - 1, 2 do
  if redis.call('HSETNX', state_key, ARGV[i], queued_code) == 1 then
    redis.call('XADD', stream_key, '*', 'm', ARGV[i + 1])
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
if accepted > 0 then
  redis.call('HINCRBY', counts_key, 'queued', accepted)
end
return {accepted, duplicates}
