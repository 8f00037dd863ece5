-- Rewrite a shared stream (inbound replies, opt-out audit) without the marked entries
-- ('drop') or with their number replaced by its keyed hash ('redact'), one chunk per call;
-- every other entry keeps its id and fields. XDEL is not enough: it only flags an entry,
-- whose bytes stay in memory and in RDB files until every entry of its node is deleted.
-- KEYS[1] the stream   KEYS[2] the copy being built   KEYS[3] set of the marked entry ids
-- ARGV[1] copy the entries after this id ('-' at the start)   ARGV[2] entries per call
-- ARGV[3] 'drop' | 'redact'   ARGV[4] the field to redact   ARGV[5] the opt-out hash key
-- Returns {'more', last id copied}, or {'done'} once the copy has replaced the stream: that
-- last call copies what was appended meanwhile and renames in the same atomic step, so no
-- entry added by a daemon during the rewrite is lost.
local stream, copy, marks = KEYS[1], KEYS[2], KEYS[3]
local start = ARGV[1] == '-' and '-' or '(' .. ARGV[1]
local count = tonumber(ARGV[2])
local entries = redis.call('XRANGE', stream, start, '+', 'COUNT', count)

local function redact(fields)
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if fields[i] == ARGV[4] and string.sub(value, 1, 5) ~= 'hash:' then
      fields[i + 1] = 'hash:' .. redis.sha1hex(ARGV[5] .. ':' .. value)
    end
  end
  return fields
end

for _, entry in ipairs(entries) do
  local id, fields = entry[1], entry[2]
  local marked = redis.call('SISMEMBER', marks, id) == 1
  if marked and ARGV[3] == 'redact' then fields = redact(fields) end
  if not (marked and ARGV[3] == 'drop') then
    redis.call('XADD', copy, id, unpack(fields))
  end
end
if #entries == count then
  redis.call('EXPIRE', copy, 86400)  -- a crashed rewrite leaves no copy behind for long
  return {'more', entries[#entries][1]}
end

if redis.call('EXISTS', copy) == 1 then
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then redis.call('XSETID', copy, info[i + 1]) end
  end
  redis.call('RENAME', copy, stream)
  redis.call('PERSIST', stream)
else  -- every entry was dropped: empty the stream, its last id stays
  redis.call('XTRIM', stream, 'MAXLEN', 0)
end
redis.call('DEL', marks)
return {'done'}
