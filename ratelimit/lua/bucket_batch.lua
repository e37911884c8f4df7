-- Several token or leaky bucket decisions in one script call: bucket.lua's decision for each of
-- KEYS[i], in order, so that the decisions a pipeline carries for one limiter cost Redis one script
-- call and one TIME instead of one of each per decision (each costs about as much as the decision).
-- ARGV: rate, burst, period µs, TTL slack ms, then for KEYS[i]: ARGV[3+2i] now µs ('' = server TIME),
-- ARGV[4+2i] n (0: peek).
-- Returns one element per key: bucket.lua's "allowed debt", or the Redis error of that key alone
-- (WRONGTYPE), which leaves the other decisions standing.
local function str(x)
  if x < 1e14 then return tostring(x) end
  return string.format('%.0f', x)
end
local rate, burst, period, slack = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local capacity = burst * period
local server -- the server's TIME as µs digits, read once, when a decision asks for it
local out = {}
for i = 1, #KEYS do
  local nowS, n = ARGV[3 + 2 * i], tonumber(ARGV[4 + 2 * i])
  if nowS == '' then
    if not server then
      local t = redis.call('TIME')
      server = t[1] .. string.sub('00000' .. t[2], -6)
    end
    nowS = server
  end
  local now = tonumber(nowS)
  local debt = 0
  local st = redis.pcall('GET', KEYS[i])
  if type(st) == 'table' then
    out[i] = st -- an error reply: this decision's alone
  else
    if st then
      local sp = string.find(st, ' ', 1, true)
      local last = tonumber(string.sub(st, sp + 1))
      debt = tonumber(string.sub(st, 1, sp - 1))
      if now < last then
        now, nowS = last, string.sub(st, sp + 1)
      elseif debt > 0 then
        local drained = (now - last) * rate
        if drained >= debt then debt = 0 else debt = debt - drained end
      end
    end
    local cost = n * period
    if n == 0 then cost = period end
    if debt > capacity - cost then
      out[i] = '0 ' .. str(debt)
    elseif n == 0 then
      out[i] = '1 ' .. str(debt)
    else
      debt = debt + cost
      local ds = str(debt)
      redis.call('SET', KEYS[i], ds .. ' ' .. nowS, 'PX', math.ceil(debt / rate / 1000) + 1 + slack)
      out[i] = '1 ' .. ds
    end
  end
end
return out
