-- Releases Aside's fleet lock if this process still holds it, and tells the
-- fleet the key's load is over, so waiting processes look in the cache now.
-- KEYS[1]: the lock key; ARGV[1]: our token; ARGV[2]: the channel;
-- ARGV[3]: the cache key (the message). Returns 1 if the lock was ours.
local held = redis.call('GET', KEYS[1]) == ARGV[1]
if held then
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
if held then
  return 1
end
return 0
