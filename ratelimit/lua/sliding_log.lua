-- SlidingWindowLog; mirrors logState.decide in algo_log.go.
-- KEYS[1]: a sorted set with one member per admitted unit, scored by its time in µs
-- ARGV: now µs ('' = server TIME), n, rate, period µs, TTL slack ms
-- Returns "allowed remaining retry reset delay" (one string: cheaper to decode than an array), times in µs.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, rate, p = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] and now < tonumber(newest[2]) then now = tonumber(newest[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - p)
local total = redis.call('ZCARD', KEYS[1])
if total + n <= rate then
  -- members are unique: within one µs the count only grows
  for i = 1, n do
    redis.call('ZADD', KEYS[1], now, now .. ':' .. (total + i))
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(p / 1000) + 1 + tonumber(ARGV[5]))
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - total - n, 0, p, 0)
end
local kth = redis.call('ZRANGE', KEYS[1], total + n - rate - 1, total + n - rate - 1, 'WITHSCORES')
newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return string.format('%.0f %.0f %.0f %.0f %.0f', 0, rate - total, tonumber(kth[2]) + p - now, tonumber(newest[2]) + p - now, 0)
