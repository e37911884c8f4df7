-- Unbinds one plain subscription's (ephemeral) group whose lease ran out
-- (its process died, or was cut off from Redis for a whole lease), and
-- deletes its stream. The schedule only says when to look; the lease key
-- says whether the group is dead. Its owner renews the key with PEXPIRE,
-- which Redis allows even while it refuses writes for lack of memory
-- (PEXPIRE does not grow memory), so a live subscriber keeps its lease
-- through an OOM, however long, and is never reaped for it. The version
-- is bumped before anything is removed, so that a reaper whose writes
-- Redis refuses removes nothing. Every key it touches is declared (they
-- share the namespace's hash tag, hence a slot).
-- KEYS[1] registry, KEYS[2] version, KEYS[3] lease schedule,
-- KEYS[4] the group's stream, KEYS[5] the group's lease; ARGV[1] group,
-- ARGV[2] a fresh epoch, used if the registry has none
-- Returns 1 when reaped, 0 when the group is alive (or already gone).
local now = now_ms()
local exp = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not exp or tonumber(exp) > now then
  return 0
end
local ttl = redis.call('PTTL', KEYS[5])
if ttl > 0 then
  -- Alive, renewed while its schedule entry could not be (OOM): look
  -- again when the lease may have run out. Refused under OOM: harmless.
  redis.pcall('ZADD', KEYS[3], 'XX', now + ttl, ARGV[1])
  return 0
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  bump_version(KEYS[2], ARGV[2])
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
