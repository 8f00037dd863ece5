-- Prelude prepended to every script (store/scripts.py): commands on many fields, members
-- or ids at once.

-- Commands on many fields or ids take them in chunks: Lua's unpack is limited to a few
-- thousand values.
local CHUNK = 1000

-- Many fields of one hash (or members of one set) looked up with one command per chunk
-- (HMGET, SMISMEMBER) rather than one per message: ~11 commands a message were called
-- one at a time, and Redis' CPU a message fell 2.9 us in the full benchmark when they
-- went by batch (docs/ENGINEERING.md). Returns the replies in the order of `fields`.
local function lookup_all(command, key, fields)
  local replies = {}
  for first = 1, #fields, CHUNK do
    local got = redis.call(command, key, unpack(fields, first, math.min(first + CHUNK - 1,
                                                                       #fields)))
    for j = 1, #got do replies[first + j - 1] = got[j] end
  end
  return replies
end

-- Fields of one hash set with one HSET per chunk; `values` maps field -> value.
local function hset_all(key, values)
  local args = {}
  for field, value in pairs(values) do
    args[#args + 1] = field
    args[#args + 1] = value
    if #args >= CHUNK then
      redis.call('HSET', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

-- Fields of hashes deleted with one HDEL per hash and chunk, given as a flat list of
-- pairs: index in `keys` of the hash, field. Returns how many were deleted.
local function hdel_pairs(keys, items)
  local by_key = {}
  for i = 1, #items, 2 do
    local key = keys[items[i]]
    local list = by_key[key]
    if not list then
      list = {}
      by_key[key] = list
    end
    list[#list + 1] = items[i + 1]
  end
  local deleted = 0
  for key, list in pairs(by_key) do
    for first = 1, #list, CHUNK do
      deleted = deleted + redis.call('HDEL', key, unpack(list, first,
                                                         math.min(first + CHUNK - 1, #list)))
    end
  end
  return deleted
end
