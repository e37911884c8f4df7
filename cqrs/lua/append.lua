-- Append events to one stream, taking their global positions in the same
-- atomic step.
-- KEYS[1] seq (string: the last position)    KEYS[2] ev (hash: position -> event)
-- KEYS[3] the stream (list: version v at index v-1 holds its position)
-- KEYS[4] the stream's event ids (hash: id -> version)   KEYS[5] tail (stream: wake-ups)
-- ARGV: expected version (-1 any, -2 exists, else exact), n, then n pairs (event id or '', body).
-- Returns {0, new version, position} appended, {1, version, position} an
-- exact retry (nothing written), {2, actual} wrong expected version,
-- {3, actual, id} duplicate id. position: the global position of the
-- stream's event at the version returned (0: none).
-- Numbers go to Redis as strings made by str ('%.0f'): Lua's '..' and
-- tostring use '%.14g', which turns 1e14 into "1e+14".
local function str(x) return string.format('%.0f', x) end

local exp = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cur = redis.call('LLEN', KEYS[3])

-- The global position of the stream's event at version v (0: none).
local function position(v)
  if v < 1 then return 0 end
  return tonumber(redis.call('LINDEX', KEYS[3], v - 1) or '0')
end

-- An exact retry of an earlier append: every id present, consecutive, in order.
if n > 0 and ARGV[3] ~= '' then
  local first = redis.call('HGET', KEYS[4], ARGV[3])
  if first then
    first = tonumber(first)
    local same = exp == -1 or exp == -2 or exp == first - 1
    local i = 2
    while same and i <= n do
      local id = ARGV[1 + 2 * i]
      same = id ~= '' and tonumber(redis.call('HGET', KEYS[4], id) or '-1') == first + i - 1
      i = i + 1
    end
    if same then return {1, first + n - 1, position(first + n - 1)} end
  end
end

if exp == -2 then
  if cur == 0 then return {2, cur} end
elseif exp ~= -1 and exp ~= cur then
  return {2, cur}
end

local ids = {}
for i = 1, n do
  local id = ARGV[1 + 2 * i]
  if id ~= '' then
    if redis.call('HEXISTS', KEYS[4], id) == 1 then return {3, cur, id} end
    ids[#ids + 1] = id
    ids[#ids + 1] = str(cur + i)
  end
end
if n == 0 then return {0, cur, position(cur)} end

-- Scripts do not roll back: everything that can fail runs before the
-- first write. Reading each key checks its type; the tail's last entry
-- must be below the new position, or XADD would refuse its id.
local last = tonumber(redis.call('GET', KEYS[1]) or '0') + n
redis.call('HLEN', KEYS[2])
local top = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)[1]
if top and tonumber(string.match(top[1], '^(%d+)')) >= last then
  return redis.error_reply('ERR cqrs: the tail stream is ahead of the position counter')
end
local t = redis.call('TIME')
local stamp = ' ' .. t[1] .. string.format('%06d', tonumber(t[2])) .. ' '

-- unpack() has a stack limit: write in chunks.
local CHUNK = 500
local fields, positions = {}, {}
redis.call('SET', KEYS[1], str(last))
for i = 1, n do
  local pos = str(last - n + i)
  fields[#fields + 1] = pos
  fields[#fields + 1] = str(cur + i) .. stamp .. ARGV[2 + 2 * i]
  positions[#positions + 1] = pos
  if #positions == CHUNK or i == n then
    redis.call('HSET', KEYS[2], unpack(fields))
    redis.call('RPUSH', KEYS[3], unpack(positions))
    fields, positions = {}, {}
  end
end
for i = 1, #ids, 2 * CHUNK do
  redis.call('HSET', KEYS[4], unpack(ids, i, math.min(i + 2 * CHUNK - 1, #ids)))
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100', str(last) .. '-0', 'p', str(last))
return {0, cur + n, last}
