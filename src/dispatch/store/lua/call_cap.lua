-- The calls a number got in the last days, across every voice campaign: reserve a call
-- for each number under the cap, give back reservations that placed no call, or count.
-- Numbers are kept as keyed hashes (the opt-out hash, its first 20 hex digits): no number
-- in clear. One small hash per day; a day's hash expires once it is out of the period.
-- KEYS[1..n] the day hashes of the period, today first (one hash tag: one cluster slot)
-- ARGV[1] the hash key (secret)   ARGV[2] calls allowed in the period
-- ARGV[3] 'reserve', 'release' or 'count'   ARGV[4] TTL of today's hash (s)
-- ARGV[5] msgpack array of numbers (see store/scripts.py `packed`)
-- Returns for 'reserve' 1 per number reserved, 0 per number at its cap; for 'release' how
-- many reservations were given back; for 'count' the first number's calls in the period.
local numbers = cmsgpack.unpack(ARGV[5])
local allowed, mode = tonumber(ARGV[2]), ARGV[3]

local function field_of(number)
  return string.sub(redis.sha1hex(ARGV[1] .. ':' .. number), 1, 20)
end

local function calls_in_period(field)
  local total = 0
  for k = 1, #KEYS do total = total + tonumber(redis.call('HGET', KEYS[k], field) or '0') end
  return total
end

if mode == 'count' then return calls_in_period(field_of(numbers[1])) end
local flags, given = {}, 0
for i = 1, #numbers do
  local field = field_of(numbers[i])
  if mode == 'reserve' then
    flags[i] = 0
    if calls_in_period(field) < allowed then
      redis.call('HINCRBY', KEYS[1], field, 1)
      flags[i] = 1
    end
  elseif tonumber(redis.call('HGET', KEYS[1], field) or '0') > 0 then
    redis.call('HINCRBY', KEYS[1], field, -1)
    given = given + 1
  end
end
if mode == 'release' then return given end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return flags
