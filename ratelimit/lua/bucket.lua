-- Token and leaky bucket as GCRA; mirrors bucketState.decide and .peek in memory_bucket.go.
-- KEYS[1]: the key's hash {l = last µs, d = debt in ticks of 1/rate µs}
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, burst, period µs, leaky (0/1), TTL slack ms
-- Returns "allowed remaining retry reset delay" (one string: cheaper to decode than an array), times in ticks.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, rate, burst, period = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local st = redis.call('HMGET', KEYS[1], 'l', 'd')
local last, debt = tonumber(st[1]) or now, tonumber(st[2]) or 0
if now < last then now = last end
if debt > 0 then
  -- elapsed*rate may exceed 2^53 only when it certainly covers the debt
  local drained = (now - last) * rate
  if drained >= debt then debt = 0 else debt = debt - drained end
end
local capacity, cost = burst * period, n * period
local peek = n == 0 -- Peek: decide on one unit, spend nothing
if peek then cost = period end
if debt > capacity - cost then
  return string.format('%.0f %.0f %.0f %.0f %.0f', 0, math.floor((capacity - debt) / period), debt - (capacity - cost), debt, 0)
end
if peek then
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, math.floor((capacity - debt) / period), 0, debt, 0)
end
debt = debt + cost
redis.call('HSET', KEYS[1], 'l', now, 'd', debt)
redis.call('PEXPIRE', KEYS[1], math.ceil(debt / rate / 1000) + 1 + tonumber(ARGV[7]))
local delay = 0
if ARGV[6] == '1' then delay = debt - period end
return string.format('%.0f %.0f %.0f %.0f %.0f', 1, math.floor((capacity - debt) / period), 0, debt, delay)
