-- SlidingWindowCounter; mirrors counterState.decide and .peek in memory_window.go.
-- KEYS[1]: the key's hash {w = window index, p = previous count, c = current count}
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, period µs, TTL slack ms
-- Returns "allowed remaining retry reset delay" (one string: cheaper to decode than an array), times in µs.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, rate, p = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local w = math.floor(now / p)
local st = redis.call('HMGET', KEYS[1], 'w', 'p', 'c')
local sw, prev, cur = tonumber(st[1]), tonumber(st[2]) or 0, tonumber(st[3]) or 0
if not sw then
  prev, cur = 0, 0
elseif w < sw then
  w, now = sw, sw * p
elseif w == sw + 1 then
  prev, cur = cur, 0
elseif w > sw + 1 then
  prev, cur = 0, 0
end
local elapsed = now - w * p
local weighted = prev * (p - elapsed)
local peek = n == 0 -- Peek: decide on one unit, spend nothing
if peek then n = 1 end
local fits = cur + n <= rate and weighted <= (rate - cur - n) * p
if fits and peek then
  local reset = 0
  if cur > 0 then reset = 2 * p - elapsed elseif prev > 0 then reset = p - elapsed end
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - cur - math.ceil(weighted / p), 0, reset, 0)
end
if fits then cur = cur + n end
local remaining = rate - cur - math.ceil(weighted / p)
local reset = 0
if cur > 0 then reset = 2 * p - elapsed elseif prev > 0 then reset = p - elapsed end
if fits then
  redis.call('HSET', KEYS[1], 'w', w, 'p', prev, 'c', cur)
  redis.call('PEXPIRE', KEYS[1], math.ceil(reset / 1000) + 1 + tonumber(ARGV[5]))
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, remaining, 0, reset, 0)
end
local retry
if cur + n <= rate then
  retry = p - elapsed - math.floor((rate - cur - n) * p / prev)
else
  retry = p - elapsed + math.max(0, p - math.floor((rate - n) * p / cur))
end
return string.format('%.0f %.0f %.0f %.0f %.0f', 0, remaining, retry, reset, 0)
