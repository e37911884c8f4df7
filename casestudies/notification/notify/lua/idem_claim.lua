-- Claim an idempotency key: KEYS[1] the key, ARGV[1] the new notification
-- id, ARGV[2] the TTL in ms. Returns the id the key holds afterwards: the
-- new one if the key was free, else the one that claimed it first.
local held = redis.call('GET', KEYS[1])
if held then
  return held
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
