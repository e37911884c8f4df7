-- Stores a load's value unless the key changed since the load read it (an
-- invalidation leaves a tombstone, another load a value): Aside's fence.
-- KEYS[1]: the cache key. ARGV[1]: SHA-1 (hex) of the bytes the load read
-- under KEYS[1], "" when it read nothing; ARGV[2]: the value; ARGV[3]: its
-- TTL in ms, 0: none; ARGV[4]: a channel to publish ARGV[5] on once
-- stored, "": none. Returns 1 if stored, 0 if fenced off.
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then
    return 0
  end
elseif not cur or redis.sha1hex(cur) ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
if ARGV[4] ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 1
