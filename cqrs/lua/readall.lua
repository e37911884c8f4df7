-- Read the global log from a position on.
-- KEYS[1] seq (the last position)   KEYS[2] ev (hash: position -> event)
-- ARGV[1] first position, ARGV[2] limit.
-- Returns the events at positions ARGV[1], ARGV[1]+1, … (no gaps: the
-- append script writes seq and the events in one step).
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local from = tonumber(ARGV[1])
local to = math.min(head, from + tonumber(ARGV[2]) - 1)
local out = {}
local CHUNK = 500
local i = from
while i <= to do
  local f = {}
  local j = i
  while j <= to and #f < CHUNK do
    f[#f + 1] = string.format('%.0f', j) -- not '..' / tostring: '%.14g'
    j = j + 1
  end
  local vs = redis.call('HMGET', KEYS[2], unpack(f))
  for k = 1, #vs do out[#out + 1] = vs[k] end
  i = j
end
return out
