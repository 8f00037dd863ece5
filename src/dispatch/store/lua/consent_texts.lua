-- The ids of consent texts (sources, slots) of one campaign, each given once at first use.
-- KEYS[1] the campaign's consent texts hash: "t:<text>" -> id, "i:<id>" -> text, "next"
-- ARGV the texts. Returns their ids, in order.
local ids = {}
for i = 1, #ARGV do
  local id = redis.call('HGET', KEYS[1], 't:' .. ARGV[i])
  if not id then
    id = redis.call('HINCRBY', KEYS[1], 'next', 1)
    redis.call('HSET', KEYS[1], 't:' .. ARGV[i], id, 'i:' .. id, ARGV[i])
  end
  ids[i] = tonumber(id)
end
return ids
