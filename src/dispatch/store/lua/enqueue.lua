-- enqueue.lua: queue one batch of messages of one campaign, skipping numbers it already has.
-- The state hash doubles as the dedupe set: a number is queued only if HSETNX added it, so a
-- re-run of the same file, or a number twice in it, queues nothing twice. The consent record
-- of each number queued, or recorded suppressed, is written in the same call (provenance
-- then tells where a suppressed number came from too). (The _states prelude is prepended.)
-- Which numbers opted out, and which another client reserved for the election, was asked
-- just before (store/campaigns.py): those keys are in other cluster slots. A number that
-- opts out between that question and this call is queued, and stopped by the senders' last
-- check before the gateway.
--
-- KEYS[1] state hash   KEYS[2] stream   KEYS[3] counts hash   KEYS[4] meta hash
-- KEYS[5] the consent buckets' name prefix: bucket b is KEYS[5] .. b (same hash tag, so
--         the same cluster slot as the campaign's other keys)
-- ARGV[1] the state code of a queued message ("q")   ARGV[2] number of consent buckets
-- ARGV[3] msgpack array of the rows, 4 values each: E.164 number, msgpack payload,
--         consent record ('' = none), and what was found: '' nothing, 'p' opted out,
--         'x' reserved by another client. One argument for the whole batch: a client
--         library handles each argument on its own, which would cost more than the script.
-- Returns {accepted, duplicates, suppressed, excluded}, or an error if a purge of the
-- campaign has started (the campaign is closed).
-- An opted-out number is recorded in the campaign as suppressed (never queued) the first
-- time (with its consent record), and counted suppressed every time; an excluded number is
-- not recorded at all.
local state_key, stream_key, counts_key, meta_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bucket_prefix = KEYS[5]
local queued_code = ARGV[1]
local buckets = tonumber(ARGV[2])
local rows = cmsgpack.unpack(ARGV[3])
if redis.call('HEXISTS', meta_key, 'purge_started_at') == 1 then
  return redis.error_reply('PURGED the campaign was purged: it takes no more messages')
end

local function record_consent(number, record)
  if record ~= '' then
    local bucket = tonumber(string.sub(number, -6)) % buckets
    redis.call('HSET', bucket_prefix .. bucket, number, record)
  end
end

local accepted, duplicates, suppressed, newly_suppressed, excluded = 0, 0, 0, 0, 0
for i = 1, #rows - 3, 4 do
  local number, found = rows[i], rows[i + 3]
  if found == 'p' then
    suppressed = suppressed + 1
    if redis.call('HSETNX', state_key, number, 'p') == 1 then
      newly_suppressed = newly_suppressed + 1
      record_consent(number, rows[i + 2])
    end
  elseif found == 'x' then
    excluded = excluded + 1
  elseif redis.call('HSETNX', state_key, number, queued_code) == 1 then
    redis.call('XADD', stream_key, '*', 'm', rows[i + 1])
    accepted = accepted + 1
    record_consent(number, rows[i + 2])
  else
    duplicates = duplicates + 1
  end
end
if accepted > 0 then
  redis.call('HINCRBY', counts_key, 'queued', accepted)
  redis.call('HDEL', meta_key, 'finished_at')  -- active again: its retention restarts
end
if newly_suppressed > 0 then
  redis.call('HINCRBY', counts_key, 'suppressed', newly_suppressed)
end
return {accepted, duplicates, suppressed, excluded}
