-- FixedWindow; mirrors windowState.decide and .peek in memory_window.go.
-- KEYS[1]: the key's hash {w = window index, c = count}
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, period µs, TTL slack ms
-- Returns "allowed remaining retry reset delay" (one string: cheaper to decode than an array), times in µs.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, rate, period = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local w = math.floor(now / period)
local st = redis.call('HMGET', KEYS[1], 'w', 'c')
local sw, count = tonumber(st[1]), tonumber(st[2]) or 0
if sw and w < sw then
  w, now = sw, sw * period
elseif not sw or w > sw then
  count = 0
end
local left = (w + 1) * period - now
local peek = n == 0 -- Peek: decide on one unit, spend nothing
if peek then n = 1 end
if count + n > rate then
  return string.format('%.0f %.0f %.0f %.0f %.0f', 0, rate - count, left, left, 0)
end
if peek then
  local reset = 0
  if count > 0 then reset = left end
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - count, 0, reset, 0)
end
count = count + n
redis.call('HSET', KEYS[1], 'w', w, 'c', count)
redis.call('PEXPIRE', KEYS[1], math.ceil(left / 1000) + 1 + tonumber(ARGV[5]))
return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - count, 0, left, 0)
