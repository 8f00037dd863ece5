-- Renew or release the purge lock (store/purge_lock.py), only while it is still this
-- holder's: once its TTL ran out, another process may hold it.
-- KEYS[1] the lock
-- ARGV[1] the holder's value (JSON with a random token: who holds it, never a number)
-- ARGV[2] the new TTL in ms, or '0' to release the lock
-- Returns 1 when the lock was this holder's (renewed or released), 0 otherwise.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
