-- optout_change.lua: opt numbers out, or back in, for a scope, each change audited, in one
-- atomic call; a new opt-out may carry an answer (its confirmation), appended to the answers
-- stream in the same call, so that exactly one confirmation goes per opt-out: none when the
-- number had already opted out (of this scope, or of every line), even when two STOPs of one
-- number are handled at once by two daemons.
--
-- KEYS[1] numbers hash (number -> JSON {scope: since})   KEYS[2] audit stream
-- KEYS[3] answers stream   KEYS[4] answers' numbers hash (token -> number)
-- KEYS[5] name prefix of the scope sets (scope s: KEYS[5] .. s)
-- ARGV[1] "opt_out" or "opt_in"   ARGV[2] the hash key (secret)   ARGV[3] now (seconds)
-- ARGV[4] msgpack array, 5 values per change: number, scope, audit fields, answer fields
--         (flat arrays field, value, ...; no answer fields: no answer) and answer token
-- Returns the number of answers appended.
local numbers_key, audit_key, answers_key = KEYS[1], KEYS[2], KEYS[3]
local answer_numbers_key, set_prefix = KEYS[4], KEYS[5]
local action, secret, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local changes = cmsgpack.unpack(ARGV[4])
local everywhere = set_prefix .. 'all'

local function scopes_of(number)
  local raw = redis.call('HGET', numbers_key, number)
  if raw then return cjson.decode(raw) end
  return {}
end

local answered = 0
for i = 1, #changes - 4, 5 do
  local number, scope, audit, answer = changes[i], changes[i + 1], changes[i + 2], changes[i + 3]
  local token = changes[i + 4]
  local hashed = redis.sha1hex(secret .. ':' .. number)
  local set_key = set_prefix .. scope
  local scopes = scopes_of(number)
  if action == 'opt_out' then
    local already = redis.call('SISMEMBER', everywhere, hashed) == 1
    local added = redis.call('SADD', set_key, hashed) == 1
    if scopes[scope] == nil then scopes[scope] = now end
    if added and not already and #answer > 0 then
      redis.call('HSET', answer_numbers_key, token, number)
      redis.call('XADD', answers_key, '*', unpack(answer))
      answered = answered + 1
    end
  else
    redis.call('SREM', set_key, hashed)
    scopes[scope] = nil
  end
  if next(scopes) == nil then
    redis.call('HDEL', numbers_key, number)
  else
    redis.call('HSET', numbers_key, number, cjson.encode(scopes))
  end
  redis.call('XADD', audit_key, '*', unpack(audit))
end
return answered
