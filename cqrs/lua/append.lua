-- Append to one or more streams (a batch: RedisStore.Append is a batch of
-- one), each item atomic by itself and checked on its own, the events
-- taking their global positions in batch order.
-- KEYS[1] seq (string: the last position)   KEYS[2] ev (hash: position -> event)
-- KEYS[3] tail (stream: an entry per write, id = its last position, for Wait)
-- KEYS[2+2j] item j's stream (list: version v at index v-1 holds its position)
-- KEYS[3+2j] item j's event ids (hash: id -> version)
-- ARGV[1] m, the number of items; then per item: expected version (-1 any,
-- -2 exists, else exact), n, then n pairs (event id or '', body).
-- Returns 3 values per item: {0, new version, position} appended,
-- {1, version, position} an exact retry (nothing written), {2, actual, 0}
-- wrong expected version, {3, actual, id} duplicate id. position: the
-- global position of the stream's event at the version returned (0: none).
--
-- Cost: an item of events without ids makes one call, an RPUSH of its
-- positions, whose reply is the stream's new length: the version before
-- it is that minus n, so the check needs no read (a stale expected
-- version pushes, then trims back: same data, no read on the common
-- path). A script makes GET, TIME, HSET, XADD and SET once, however many
-- items it carries: a lone single-event append runs 6 calls, a batch of
-- m such items 5 + m.
--
-- Numbers go to Redis as strings made by str: Lua's '..' and tostring use
-- '%.14g', exact for integers below 1e14 but "1e+14" past them, where str
-- uses '%.0f' (string.format costs about three tostrings in Redis's Lua).
local function str(x)
  if x < 1e14 then return tostring(x) end
  return string.format('%.0f', x)
end

local CHUNK = 500 -- unpack() has a stack limit: write in chunks
local seq = tonumber(redis.call('GET', KEYS[1]) or '0') -- last position written
local taken = seq -- last position taken by an accepted item
local stamp -- ' <unix µs> ', read once, before the first write
local fields, nf = {}, 0 -- ev fields not written yet: position, event
-- What undo needs, 3 slots per accepted item: key index, version
-- before, ARGV index of its arguments.
local done, nd = {}, 0

local function writeEvents()
  if nf > 0 then redis.call('HSET', KEYS[2], unpack(fields, 1, nf)) end
  nf = 0
end

-- The global position of the stream's event at version v (0: none).
local function position(ks, v)
  if v < 1 then return 0 end
  return tonumber(redis.call('LINDEX', ks, v - 1) or '0')
end

-- Cut the stream back to version v.
local function trim(ks, v)
  if v == 0 then
    redis.call('DEL', ks)
  else
    redis.call('LTRIM', ks, 0, v - 1)
  end
end

local function stale(exp, cur)
  return (exp == -2 and cur == 0) or (exp >= 0 and exp ~= cur)
end

-- Not appended: a stale expected version wins over a duplicate id.
local function refuse(ks, exp, id)
  local cur = redis.call('LLEN', ks)
  if stale(exp, cur) then return 2, cur, 0 end
  return 3, cur, id
end

-- Check item j (its key index k, its arguments from ARGV[a]) and write
-- its stream and ids (its events go to ev with the batch's); returns its
-- three reply values.
local function append(k, a)
  local ks, kid = KEYS[k], KEYS[k + 1]
  local exp, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local from = 1 -- the first id HEXISTS checks
  -- An exact retry of an earlier append: every id present, consecutive, in order.
  if n > 0 and ARGV[a + 2] ~= '' then
    from = 2
    local first = redis.call('HGET', kid, ARGV[a + 2])
    if first then
      first = tonumber(first)
      local same = exp == -1 or exp == -2 or exp == first - 1
      local i = 2
      while same and i <= n do
        local id = ARGV[a + 2 * i]
        same = id ~= '' and tonumber(redis.call('HGET', kid, id) or '-1') == first + i - 1
        i = i + 1
      end
      if same then return 1, first + n - 1, position(ks, first + n - 1) end
      return refuse(ks, exp, ARGV[a + 2])
    end
  end
  local ids = from == 2
  for i = from, n do
    local id = ARGV[a + 2 * i]
    if id ~= '' then
      ids = true
      if redis.call('HEXISTS', kid, id) == 1 then return refuse(ks, exp, id) end
    end
  end
  if n == 0 then
    local cur = redis.call('LLEN', ks)
    if stale(exp, cur) then return 2, cur, 0 end
    return 0, cur, position(ks, cur)
  end
  if not stamp then
    local t = redis.call('TIME')
    stamp = ' ' .. t[1] .. string.format('%06d', tonumber(t[2])) .. ' '
  end
  local ps, len
  if n == 1 then -- the common case, without a table
    ps = str(taken + 1)
    len = redis.call('RPUSH', ks, ps)
  else
    ps = {}
    for i = 1, n do ps[i] = str(taken + i) end
    for i = 1, n, CHUNK do
      len = redis.call('RPUSH', ks, unpack(ps, i, math.min(i + CHUNK - 1, n)))
    end
  end
  local cur = len - n
  if stale(exp, cur) then
    trim(ks, cur)
    return 2, cur, 0
  end
  done[nd + 1], done[nd + 2], done[nd + 3] = k, cur, a
  nd = nd + 3
  if ids then
    local hs, nh = {}, 0
    for i = 1, n do
      local id = ARGV[a + 2 * i]
      if id ~= '' then
        hs[nh + 1], hs[nh + 2] = id, str(cur + i)
        nh = nh + 2
        if nh == 2 * CHUNK then
          redis.call('HSET', kid, unpack(hs, 1, nh))
          nh = 0
        end
      end
    end
    if nh > 0 then redis.call('HSET', kid, unpack(hs, 1, nh)) end
  end
  if n == 1 then
    fields[nf + 1] = ps
    fields[nf + 2] = str(cur + 1) .. stamp .. ARGV[a + 3]
    nf = nf + 2
    if nf == 2 * CHUNK then writeEvents() end
  else
    for i = 1, n do
      fields[nf + 1] = ps[i]
      fields[nf + 2] = str(cur + i) .. stamp .. ARGV[a + 2 * i + 1]
      nf = nf + 2
      if nf == 2 * CHUNK then writeEvents() end
    end
  end
  taken = taken + n
  return 0, cur + n, taken
end

-- Take back every accepted item's stream and ids, last first (an item
-- may follow another on the same stream). ev fields past seq stay: no
-- reader looks past seq, and the next append overwrites them.
local function undo()
  for j = nd - 2, 1, -3 do
    local k, cur, a = done[j], done[j + 1], done[j + 2]
    trim(KEYS[k], cur)
    for i = 1, tonumber(ARGV[a + 1]) do
      local id = ARGV[a + 2 * i]
      if id ~= '' then redis.call('HDEL', KEYS[k + 1], id) end
    end
  end
end

local out = {}
local ok, err = pcall(function()
  local a = 2
  for j = 1, tonumber(ARGV[1]) do
    local code, v, third = append(2 + 2 * j, a)
    out[#out + 1] = code
    out[#out + 1] = v
    out[#out + 1] = third
    a = a + 2 + 2 * tonumber(ARGV[a + 1])
  end
  if taken == seq then return end
  writeEvents()
  local added = redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', '100', str(taken) .. '-0', 'p', str(taken))
  if type(added) == 'table' and added.err then
    error({err = 'ERR cqrs: the tail stream refused position ' .. str(taken) ..
      ' (ahead of the position counter, or not a stream): ' .. added.err})
  end
  redis.call('SET', KEYS[1], str(taken))
end)
if ok then return out end
-- Scripts do not roll back: a call that failed (a key of another type, a
-- Redis out of memory at the first write, the tail refusing the XADD)
-- leaves the script's writes in place unless it takes them back.
undo()
if type(err) == 'table' and err.err then return redis.error_reply(err.err) end
return redis.error_reply('ERR cqrs: append script: ' .. tostring(err))
