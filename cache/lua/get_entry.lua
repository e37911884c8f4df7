-- GET with the key's remaining TTL in one round trip.
-- KEYS[1]: the cache key. Returns false on a miss, else {value, pttl}
-- (pttl -1: no expiry).
local v = redis.call('GET', KEYS[1])
if not v then
  return false
end
return {v, redis.call('PTTL', KEYS[1])}
