-- Token and leaky bucket as GCRA; mirrors bucketState.decide and .peek in memory_bucket.go.
-- Shared by bucket.lua (one decision) and bucket_batch.lua (several), which the Go side builds by
-- prepending this file, so the two cannot drift apart.
-- A key's state is a string "debt last": debt in ticks of 1/rate µs, last = µs of the last charge.
-- A decision answers "allowed debt" (one string: cheaper to decode than an array), debt in ticks
-- after the decision; bucketOutcome in redis_bucket.go derives remaining, retry and delay from it,
-- which spares the script the number formatting (each tostring costs about as much as a Redis call
-- here). Every decision runs this, so it is kept cheap: one compact string for the state rather
-- than a hash (no reply tables), and tostring instead of string.format (about 3x cheaper) for
-- numbers below 1e14, where Lua's %.14g is still exact.
local function str(x)
  if x < 1e14 then return tostring(x) end
  return string.format('%.0f', x)
end

-- decide makes one decision on key, whose state st was just read (false: none), at nowS (µs as
-- digits), for n units (0: peek, decide on one unit and spend nothing); capacity = burst * period;
-- slack is the TTL slack in ms.
local function decide(key, st, nowS, n, rate, capacity, period, slack)
  local now = tonumber(nowS)
  local debt = 0
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
  local cost = n * period
  if n == 0 then cost = period end
  if debt > capacity - cost then
    return '0 ' .. str(debt)
  end
  if n == 0 then
    return '1 ' .. str(debt)
  end
  debt = debt + cost
  local ds = str(debt)
  redis.call('SET', key, ds .. ' ' .. nowS, 'PX', math.ceil(debt / rate / 1000) + 1 + slack)
  return '1 ' .. ds
end

-- serverNow is the server's TIME as µs digits: seconds, then microseconds padded to 6.
local function serverNow()
  local t = redis.call('TIME')
  return t[1] .. string.sub('00000' .. t[2], -6)
end
