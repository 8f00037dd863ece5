-- Record final receipts: find each one's message and apply it, in one round trip; park
-- the ones not (yet) known as orphans (record.lua applies an orphan when its submission
-- is recorded). The sweeper's expiries come this way too, without parking.
-- KEYS[1] orphans hash   KEYS[2..] receipt maps, newest hour first, one hour apart
-- ARGV[1] orphan TTL (s)   ARGV[2] the head of campaign keys (Keys.campaign_head)
-- ARGV[3] how many receipts the orphans hash may hold: unknown receipts are parked while
--         it has room, counted dropped beyond; '0': skip them (the sweeper's expiries)
-- ARGV[4] msgpack of a flat list of triples: gateway id, final code ('d' | 'f' | 'x'),
--         reason
-- ARGV[5] now, in deciseconds since the start of KEYS[2]'s hour, and ARGV[6] msgpack of
--         ascending bounds (deciseconds): each applied receipt whose correlation carries
--         its submission's time (record.lua) is counted by age, per campaign, in the
--         first bucket whose bound it does not exceed (or the last, above every bound).
--         Absent or '': no ages.
-- A receipt's campaign is known only once its correlation is found, so its keys are built
-- here (head .. id .. '}:state'): the keys of one campaign share a hash tag, but receipts
-- of several campaigns in one call do not, which a Redis Cluster would refuse.
-- The orphans hash expires ARGV[1] after it was created, not after each park: forged
-- receipts must not keep it alive. A real orphan is adopted (record.lua) within the record
-- delay, and the hash, emptied, goes: the next one starts a new hash and a new TTL.
-- Returns {delivered, failed, expired, repeated (message already final), parked, ages,
-- dropped (unknown, no room to park)}
-- where ages is a flat list: per campaign met, its id, the sum of the ages (ds), then
-- the count of each bucket (#bounds + 1 of them).
local applied = {d = 0, f = 0, x = 0}
local repeated, parked, dropped = 0, 0, 0
local room = 0
if ARGV[3] ~= '0' then room = tonumber(ARGV[3]) - redis.call('HLEN', KEYS[1]) end
local tallies = {}  -- counts hash -> tally, one per campaign met
local timed = ARGV[5] ~= nil and ARGV[5] ~= ''
local now, bounds = 0, {}
if timed then
  now = tonumber(ARGV[5])
  bounds = cmsgpack.unpack(ARGV[6])
end
local ages, met = {}, {}  -- campaign -> {sum, bucket counts...}; campaigns in order
local function count_age(campaign, age)
  local row = ages[campaign]
  if not row then
    row = {0}
    for b = 1, #bounds + 1 do row[b + 1] = 0 end
    ages[campaign] = row
    met[#met + 1] = campaign
  end
  if age < 0 then age = 0 end  -- another host's clock, a little ahead
  row[1] = row[1] + age
  local b = 1
  while b <= #bounds and age > bounds[b] do b = b + 1 end
  row[b + 1] = row[b + 1] + 1
end
local items = cmsgpack.unpack(ARGV[4])
for i = 1, #items, 3 do
  local gateway_id, code, reason = items[i], items[i + 1], items[i + 2]
  local target, map_key, hours_back = false, nil, 0
  for k = 2, #KEYS do
    target = redis.call('HGET', KEYS[k], gateway_id)
    if target then
      map_key, hours_back = KEYS[k], k - 2
      break
    end
  end
  if target then
    -- "campaign<TAB>number", then "<TAB>submission time" when record.lua stamped it.
    local campaign, number, stamp = string.match(target, '^([^\t]*)\t([^\t]*)\t?(%d*)$')
    local base = ARGV[2] .. campaign .. '}:'
    local counts_key = base .. 'counts'
    tallies[counts_key] = tallies[counts_key] or {}
    if apply_final(base .. 'state', tallies[counts_key], base .. 'errors', number, code,
                   reason) then
      applied[code] = applied[code] + 1
      if timed and stamp ~= '' then
        count_age(campaign, now + hours_back * 36000 - tonumber(stamp))
      end
    else
      repeated = repeated + 1
    end
    redis.call('HDEL', map_key, gateway_id)
  elseif room > 0 then
    redis.call('HSET', KEYS[1], gateway_id, code .. '\t' .. reason)
    parked, room = parked + 1, room - 1
  elseif ARGV[3] ~= '0' then
    dropped = dropped + 1
  end
end
for counts_key, tally in pairs(tallies) do write_tally(counts_key, tally) end
if parked > 0 and redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local flat = {}
for _, campaign in ipairs(met) do
  flat[#flat + 1] = campaign
  for _, value in ipairs(ages[campaign]) do flat[#flat + 1] = value end
end
return {applied.d, applied.f, applied.x, repeated, parked, flat, dropped}
