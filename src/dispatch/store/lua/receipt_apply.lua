-- Apply final receipts to the messages of one campaign (step 2 of 3 in store/receipts.py,
-- after receipt_find.lua found them). (The _states prelude is prepended.)
-- KEYS[1] state hash   KEYS[2] counts hash   KEYS[3] errors hash
-- ARGV[1] msgpack of a flat list of quads: number, final code ('d' | 'f' | 'x'), reason,
--         and the receipt's age in deciseconds (-1: unknown: the submission was not
--         stamped, or ages are not wanted)
-- ARGV[2] msgpack of ascending bounds (deciseconds): each applied receipt of known age is
--         counted in the first bucket whose bound it does not exceed (or the last, above
--         every bound).
-- Returns {delivered, failed, expired, repeated (message already final), sum of the ages
-- counted (ds), then the count of each bucket (#bounds + 1 of them)}.
local applied = {d = 0, f = 0, x = 0}
local repeated = 0
local tally = {}
local bounds = cmsgpack.unpack(ARGV[2])
local ages = {0}
for b = 1, #bounds + 1 do ages[b + 1] = 0 end
local function count_age(age)
  if age < 0 then age = 0 end  -- another host's clock, a little ahead
  ages[1] = ages[1] + age
  local b = 1
  while b <= #bounds and age > bounds[b] do b = b + 1 end
  ages[b + 1] = ages[b + 1] + 1
end
local items = cmsgpack.unpack(ARGV[1])
local states = load_states(KEYS[1], items, 1, 4)
for i = 1, #items, 4 do
  local number, code, reason, age = items[i], items[i + 1], items[i + 2], items[i + 3]
  if apply_final(states, tally, KEYS[3], number, code, reason) then
    applied[code] = applied[code] + 1
    if age ~= -1 then count_age(age) end
  else
    repeated = repeated + 1
  end
end
save_states(states)
write_tally(KEYS[2], tally)
local reply = {applied.d, applied.f, applied.x, repeated}
for _, value in ipairs(ages) do reply[#reply + 1] = value end
return reply
