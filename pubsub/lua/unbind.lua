-- Unbinds a group and deletes its stream (and the messages in it).
-- KEYS[1] registry, KEYS[2] version, KEYS[3] stream, KEYS[4] ephemeral leases
-- ARGV[1] group
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
if n > 0 then
  redis.call('INCR', KEYS[2])
end
return n
