-- Token and leaky bucket as GCRA; mirrors bucketState.decide and .peek in memory_bucket.go.
-- KEYS[1]: a string "debt last": debt in ticks of 1/rate µs, last = µs of the last charge
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, burst, period µs, leaky (0/1: unused here), TTL slack ms
-- Returns "allowed debt" (one string: cheaper to decode than an array), debt in ticks after the decision;
-- bucketOutcome in redis_bucket.go derives remaining, retry and delay from it, which spares the
-- script the number formatting (each tostring costs about as much as a Redis call here).
-- Every decision runs this, so it is kept cheap: three Redis calls at most (TIME, GET, SET PX), one
-- compact string for the state rather than a hash (no reply tables), and tostring instead of
-- string.format (about 3x cheaper) for numbers below 1e14, where Lua's %.14g is still exact.
local function str(x)
  if x < 1e14 then return tostring(x) end
  return string.format('%.0f', x)
end
local nowS = ARGV[1]
if nowS == '' then
  local t = redis.call('TIME')
  nowS = t[1] .. string.sub('00000' .. t[2], -6) -- µs as digits: seconds, then microseconds padded to 6
end
local now = tonumber(nowS)
local n, rate, burst, period = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local debt = 0
local st = redis.call('GET', KEYS[1])
if st then
  local sp = string.find(st, ' ', 1, true)
  local last = tonumber(string.sub(st, sp + 1))
  debt = tonumber(string.sub(st, 1, sp - 1))
  if now < last then
    now, nowS = last, string.sub(st, sp + 1)
  elseif debt > 0 then
    -- elapsed*rate may exceed 2^53 only when it certainly covers the debt
    local drained = (now - last) * rate
    if drained >= debt then debt = 0 else debt = debt - drained end
  end
end
local capacity, cost = burst * period, n * period
if n == 0 then cost = period end -- Peek: decide on one unit, spend nothing
if debt > capacity - cost then
  return '0 ' .. str(debt)
end
if n == 0 then
  return '1 ' .. str(debt)
end
debt = debt + cost
local ds = str(debt)
redis.call('SET', KEYS[1], ds .. ' ' .. nowS, 'PX', math.ceil(debt / rate / 1000) + 1 + tonumber(ARGV[7]))
return '1 ' .. ds
