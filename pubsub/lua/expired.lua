-- Lists plain subscriptions' (ephemeral) groups whose scheduled lease
-- expiry has passed, by the server's clock: candidates only, since a lease
-- renewed while Redis refused writes is not rescheduled; reap.lua checks
-- the lease itself before removing any.
-- KEYS[1] lease schedule (zset group -> expiry ms); ARGV[1] max count
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
