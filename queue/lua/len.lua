-- Len: ready (due, including scheduled jobs now due), scheduled, leased.
-- KEYS: ready, sched, leases
-- ARGV: now_us ('' = server TIME)
local now = tonumber(ARGV[1]) or server_us()
local due = redis.call('ZCOUNT', KEYS[2], '-inf', num(now))
return {redis.call('ZCARD', KEYS[1]) + due, redis.call('ZCARD', KEYS[2]) - due, redis.call('ZCARD', KEYS[3])}
