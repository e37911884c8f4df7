-- Claim an idempotency key: KEYS[1] the key, ARGV[1] the new notification
-- id, ARGV[2] the TTL of a pending claim in ms. Returns the key's value
-- afterwards: "p:<id>" for a claim whose notification is being written
-- (this one, if the key was free), "d:<id>" for one accepted.
local held = redis.call('GET', KEYS[1])
if held then
  return held
end
local v = 'p:' .. ARGV[1]
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
