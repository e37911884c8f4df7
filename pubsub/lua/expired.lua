-- Lists ephemeral groups whose lease expired (their process died without
-- unsubscribing), by the server's clock; reap.lua then removes each.
-- KEYS[1] ephemeral leases (zset group -> expiry ms); ARGV[1] max count
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
