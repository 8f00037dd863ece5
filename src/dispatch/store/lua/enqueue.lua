-- enqueue.lua: queue one batch of messages of one campaign, skipping numbers it already has,
-- numbers that opted out and numbers another client reserved for the same election. The
-- state hash doubles as the dedupe set: a number is queued only if HSETNX added it, so a
-- re-run of the same file, or a number twice in it, queues nothing twice. The consent record
-- of each number queued, or recorded suppressed, is written in the same call (provenance
-- then tells where a suppressed number came from too). (The _states prelude is prepended.)
--
-- KEYS[1] state hash   KEYS[2] stream   KEYS[3] counts hash   KEYS[4] meta hash
-- KEYS[5] the consent buckets' name prefix: bucket b is KEYS[5] .. b (same hash tag, so
--         the same cluster slot as the campaign's other keys)
-- KEYS[6] the election's reservations name prefix (only when ARGV[3] names a client):
--         bucket = the first 3 hex digits of the number's keyed hash, field = the next 17
-- KEYS[7 or 6 ..] opt-out scope sets that apply to the campaign's sender
-- ARGV[1] the state code of a queued message ("q")   ARGV[2] the opt-out hash key
-- ARGV[3] client ('' = no exclusivity)   ARGV[4] number of consent buckets
-- ARGV[5] msgpack array of the rows, 3 values each: E.164 number, msgpack payload,
--         consent record ('' = none). One argument for the whole batch: a client library
--         handles each argument on its own, which would cost more than the script.
-- Returns {accepted, duplicates, suppressed, excluded}, or an error if a purge of the
-- campaign has started (the campaign is closed).
-- An opted-out number is recorded in the campaign as suppressed (never queued) the first
-- time (with its consent record), and counted suppressed every time; an excluded number is
-- not recorded at all.
local state_key, stream_key, counts_key, meta_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bucket_prefix = KEYS[5]
local queued_code, secret, client = ARGV[1], ARGV[2], ARGV[3]
local buckets = tonumber(ARGV[4])
local rows = cmsgpack.unpack(ARGV[5])
local reservations = nil
local first_optout = 6
if client ~= '' then
  reservations = KEYS[6]
  first_optout = 7
end
if redis.call('HEXISTS', meta_key, 'purge_started_at') == 1 then
  return redis.error_reply('PURGED the campaign was purged: it takes no more messages')
end

local function opted_out_hashed(hashed)
  for k = first_optout, #KEYS do
    if redis.call('SISMEMBER', KEYS[k], hashed) == 1 then return true end
  end
  return false
end

local function record_consent(number, record)
  if record ~= '' then
    local bucket = tonumber(string.sub(number, -6)) % buckets
    redis.call('HSET', bucket_prefix .. bucket, number, record)
  end
end

local accepted, duplicates, suppressed, newly_suppressed, excluded = 0, 0, 0, 0, 0
for i = 1, #rows - 2, 3 do
  local number = rows[i]
  local hashed = redis.sha1hex(secret .. ':' .. number)
  local owner, bucket_key, field = false, nil, nil
  if reservations then
    bucket_key, field = reservations .. string.sub(hashed, 1, 3), string.sub(hashed, 4, 20)
    owner = redis.call('HGET', bucket_key, field)
  end
  if opted_out_hashed(hashed) then
    suppressed = suppressed + 1
    if redis.call('HSETNX', state_key, number, 'p') == 1 then
      newly_suppressed = newly_suppressed + 1
      record_consent(number, rows[i + 2])
    end
  elseif owner and owner ~= client then
    excluded = excluded + 1
  elseif redis.call('HSETNX', state_key, number, queued_code) == 1 then
    redis.call('XADD', stream_key, '*', 'm', rows[i + 1])
    accepted = accepted + 1
    record_consent(number, rows[i + 2])
    if reservations and not owner then
      redis.call('HSET', bucket_key, field, client)
    end
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
