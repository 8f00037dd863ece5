-- Start (or resume) the purge of one campaign: one atomic step against enqueue and daemons.
-- KEYS[1] meta   KEYS[2] counts   KEYS[3] state hash   KEYS[4] purging (the renamed state)
-- ARGV[1] now (s)   ARGV[2] '1' to purge even with messages queued or in flight
-- Returns {'missing'} | {'done'} (already purged) | {'busy', queued, in_flight} |
-- {'started', numbers held}.
-- After this step: enqueue refuses the campaign (purge_started_at); daemons that start
-- later skip it (no `text`: moved to purged_text); running daemons find no state for its
-- numbers, so they ack what they read or hold and record nothing (no receipt map, no
-- error). The renamed state hash tells the rest of the purge which numbers to erase.
local meta, counts, state, purging = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', meta) == 0 then return {'missing'} end
if redis.call('HEXISTS', meta, 'purged_at') == 1 then return {'done'} end
local queued = tonumber(redis.call('HGET', counts, 'queued') or '0')
local in_flight = tonumber(redis.call('HGET', counts, 'in_flight') or '0')
local resuming = redis.call('HEXISTS', meta, 'purge_started_at') == 1
if not resuming and ARGV[2] ~= '1' and queued + in_flight > 0 then
  return {'busy', queued, in_flight}
end
redis.call('HSETNX', meta, 'purge_started_at', ARGV[1])
local text = redis.call('HGET', meta, 'text')
if text then
  redis.call('HSETNX', meta, 'purged_text', text)
  redis.call('HDEL', meta, 'text')
end
if redis.call('EXISTS', state) == 1 and redis.call('EXISTS', purging) == 0 then
  redis.call('RENAME', state, purging)
end
-- Messages never sent now never will be: out of the counts, into the meta.
if queued + in_flight > 0 then
  redis.call('HINCRBY', meta, 'purged_unsent', queued + in_flight)
  redis.call('HDEL', counts, 'queued', 'in_flight')
end
return {'started', redis.call('HLEN', purging)}
