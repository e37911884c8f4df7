-- SlidingWindowLog; mirrors logState.decide and .peek in memory_log.go.
-- KEYS[1]: a sorted set with one member per admitted request, "seq:n",
--          scored by its time in µs
-- KEYS[2]: a hash {t = the sum of n over KEYS[1], s = the last seq}
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, period µs, TTL slack ms
-- Returns "allowed remaining retry reset delay" (one string: cheaper to decode than an array), times in µs.
-- Numbers become text through string.format('%.0f'): Lua's own conversion
-- is %.14g, which rounds a µs timestamp.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, rate, p = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local log, meta = KEYS[1], KEYS[2]

local function size(member) return tonumber(string.match(member, ':(%d+)$')) end

local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
if newest[2] and now < tonumber(newest[2]) then now = tonumber(newest[2]) end
local total = tonumber(redis.call('HGET', meta, 't')) or 0
local expired = redis.call('ZRANGEBYSCORE', log, '-inf', now - p)
if #expired > 0 then
  for _, m in ipairs(expired) do total = total - size(m) end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - p)
  redis.call('HSET', meta, 't', total)
end

local peek = n == 0 -- Peek: decide on one unit, record nothing
if peek then n = 1 end
if total + n <= rate and peek then
  local reset = 0
  newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  if newest[2] then reset = tonumber(newest[2]) + p - now end
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - total, 0, reset, 0)
end
if total + n <= rate then
  local seq = redis.call('HINCRBY', meta, 's', 1)
  redis.call('ZADD', log, now, string.format('%.0f:%.0f', seq, n))
  redis.call('HSET', meta, 't', total + n)
  local ttl = math.ceil(p / 1000) + 1 + tonumber(ARGV[5])
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', meta, ttl)
  return string.format('%.0f %.0f %.0f %.0f %.0f', 1, rate - total - n, 0, p, 0)
end

-- Denied: the oldest total+n-rate units must expire first. Walk the oldest
-- requests until they add up to that many (n is usually 1: one step).
local function retryAfter()
  local need, acc, from = total + n - rate, 0, 0
  while true do
    local batch = redis.call('ZRANGE', log, from, from + 15, 'WITHSCORES')
    if #batch == 0 then return p end -- cannot happen while t matches the log
    for i = 1, #batch, 2 do
      acc = acc + size(batch[i])
      if acc >= need then return tonumber(batch[i + 1]) + p - now end
    end
    from = from + 16
  end
end
newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
return string.format('%.0f %.0f %.0f %.0f %.0f', 0, rate - total, retryAfter(), tonumber(newest[2]) + p - now, 0)
