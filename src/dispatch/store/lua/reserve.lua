-- reserve.lua: reserve numbers for a client in an election (exclusivity), before enqueue.lua
-- queues them: a number already reserved for another client is excluded from the campaign.
-- One call per batch, on the election's keys alone (one cluster slot): the campaign's keys
-- are another slot's, so this step comes first; a file loaded again finds its numbers
-- reserved for its own client and goes on.
-- KEYS[1] the election's reservations name prefix: bucket = the first 3 hex digits of the
--         number's keyed hash, field = the next 17
-- ARGV[1] the client   ARGV[2] msgpack array of keyed hashes (hex)
-- Returns one flag per hash: 1 reserved for this client (now or before), 0 another's.
local prefix, client = KEYS[1], ARGV[1]
local hashes = cmsgpack.unpack(ARGV[2])
local flags = {}
for i = 1, #hashes do
  local bucket, field = prefix .. string.sub(hashes[i], 1, 3), string.sub(hashes[i], 4, 20)
  local owner = redis.call('HGET', bucket, field)
  if not owner then
    redis.call('HSET', bucket, field, client)
    owner = client
  end
  flags[i] = owner == client and 1 or 0
end
return flags
