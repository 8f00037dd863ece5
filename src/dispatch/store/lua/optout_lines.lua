-- Which messages of a batch must not go: their number opted out for every line, or for
-- the line the message goes out from. One call per batch, whatever the lines in it.
-- KEYS[1] scope set of every line ("all")   KEYS[2..] scope sets of the batch's lines
-- ARGV[1] opt-out hash key; ARGV[2] msgpack of a flat list of pairs: number, index in
-- KEYS of its line's set (1: the message has no line of its own, only KEYS[1] applies)
-- Returns one flag per message: 1 opted out, 0 not.
local flags = {}
local items = cmsgpack.unpack(ARGV[2])
for i = 1, #items, 2 do
  local hashed = redis.sha1hex(ARGV[1] .. ':' .. items[i])
  local k = items[i + 1]
  local out = redis.call('SISMEMBER', KEYS[1], hashed) == 1
  if not out and k > 1 then out = redis.call('SISMEMBER', KEYS[k], hashed) == 1 end
  flags[#flags + 1] = out and 1 or 0
end
return flags
