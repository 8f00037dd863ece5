-- Which messages of a batch must not go: their number opted out for every line, or for
-- the line the message goes out from. One call per batch, whatever the lines in it; one
-- SMISMEMBER per set looked at.
-- KEYS[1] scope set of every line ("all")   KEYS[2..] scope sets of the batch's lines
-- ARGV[1] opt-out hash key; ARGV[2] msgpack of a flat list of pairs: number, index in
-- KEYS of its line's set (1: the message has no line of its own, only KEYS[1] applies)
-- Returns one flag per message: 1 opted out, 0 not.
local items = cmsgpack.unpack(ARGV[2])
local hashed = {}
for i = 1, #items, 2 do hashed[#hashed + 1] = redis.sha1hex(ARGV[1] .. ':' .. items[i]) end
local flags = lookup_all('SMISMEMBER', KEYS[1], hashed)
-- The messages not out everywhere, by their line's set: looked up there.
local by_set = {}
for m = 1, #hashed do
  local k = items[2 * m]
  if flags[m] == 0 and k > 1 then
    local positions = by_set[k]
    if not positions then
      positions = {}
      by_set[k] = positions
    end
    positions[#positions + 1] = m
  end
end
for k, positions in pairs(by_set) do
  local members = {}
  for j = 1, #positions do members[j] = hashed[positions[j]] end
  local out = lookup_all('SMISMEMBER', KEYS[k], members)
  for j = 1, #positions do flags[positions[j]] = out[j] end
end
return flags
