-- Unbinds a group and deletes its stream (and the messages in it) and
-- lease. The version is bumped first, so that when Redis refuses writes
-- (OOM) the script fails before changing anything.
-- KEYS[1] registry, KEYS[2] version, KEYS[3] stream, KEYS[4] lease
-- schedule, KEYS[5] the group's lease
-- ARGV[1] group, ARGV[2] a fresh epoch, used if the registry has none
local n = redis.call('HEXISTS', KEYS[1], ARGV[1])
if n == 1 then
  bump_version(KEYS[2], ARGV[2])
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[5])
redis.call('ZREM', KEYS[4], ARGV[1])
return n
