-- Forget the correlations of receipts applied (step 3 of 3 in store/receipts.py), and the
-- orphans adopted by a record.
-- KEYS: receipt maps or the orphans hash (one cluster slot: {dlr})
-- ARGV[1] msgpack of a flat list of pairs: index in KEYS, gateway id
-- Returns how many were deleted.
return hdel_pairs(KEYS, cmsgpack.unpack(ARGV[1]))
