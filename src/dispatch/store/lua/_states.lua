-- Prelude prepended to the daemon's scripts: one place for state codes and the
-- transition that keeps the per-campaign counts hash equal to the state hash.
local STATE_NAMES = {q = 'queued', i = 'in_flight', s = 'submitted',
                     d = 'delivered', f = 'failed', x = 'expired', p = 'suppressed',
                     c = 'cancelled'}
local FINAL = {d = true, f = true, x = true, p = true, c = true}

-- True when the number opted out in one of the scope sets KEYS[first..last] (sets of
-- keyed hashes, so that an erased number's objection still holds).
local function opted_out(secret, number, first, last)
  local hashed = redis.sha1hex(secret .. ':' .. number)
  for k = first, last do
    if redis.call('SISMEMBER', KEYS[k], hashed) == 1 then return true end
  end
  return false
end

-- Move one number to a new state code; returns the previous code (false if unknown).
local function transition(state_key, counts_key, number, new_code)
  local old = redis.call('HGET', state_key, number)
  if old == new_code then return old end
  redis.call('HSET', state_key, number, new_code)
  if old then redis.call('HINCRBY', counts_key, STATE_NAMES[old], -1) end
  redis.call('HINCRBY', counts_key, STATE_NAMES[new_code], 1)
  return old
end

-- A final receipt's code for one number, unless its message is already final (a repeated
-- receipt, or one that came after the message expired). True when applied.
local function apply_final(state_key, counts_key, errors_key, number, code, reason)
  local state = redis.call('HGET', state_key, number)
  if not state or FINAL[state] then return false end
  transition(state_key, counts_key, number, code)
  if code ~= 'd' then redis.call('HSET', errors_key, number, reason) end
  return true
end

local function ack(stream_key, group, id)
  redis.call('XACK', stream_key, group, id)
  redis.call('XDEL', stream_key, id)
end
