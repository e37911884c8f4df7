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
-- Cost: a lone single-event append without ids runs GET, LLEN, TIME, HSET,
-- XADD, SET, RPUSH; a batch shares the GET, TIME, XADD and SET. Nothing is
-- read back that the checks do not need.
--
-- Numbers go to Redis as strings made by str: Lua's '..' and tostring use
-- '%.14g', exact for integers below 1e14 but "1e+14" past them, where str
-- uses '%.0f' (string.format costs about three tostrings in Redis's Lua).
local function str(x)
  if x < 1e14 then return tostring(x) end
  return string.format('%.0f', x)
end

-- Lua tables cost more here than the Redis calls: pending items live in
-- flat arrays, reused, not in a table each.
local CHUNK = 500 -- unpack() has a stack limit: write in chunks
local seq = tonumber(redis.call('GET', KEYS[1]) or '0') -- last position written
local taken = seq -- last position taken by an accepted item
-- Accepted items not written yet, 4 slots each: key index, ARGV index,
-- version before, events.
local np, pend = 0, {}
local written -- stream key -> true while an item of it is pending (batches of 2+ only)
local stamp -- ' <unix µs> ', read once, at the first write

-- The global position of the stream's event at version v (0: none).
local function position(ks, v)
  if v < 1 then return 0 end
  return tonumber(redis.call('LINDEX', ks, v - 1) or '0')
end

-- Write the pending items. Scripts do not roll back, so the order matters:
-- every check ran before (LLEN and the id reads type-check the stream's
-- keys); the first write, to ev, fails whole (a key of another type, OOM)
-- with nothing written; an XADD refused (the tail ahead of seq) leaves
-- only ev fields past seq, invisible and overwritten by the next write.
local function flush()
  if np == 0 then return end
  if not stamp then
    local t = redis.call('TIME')
    stamp = ' ' .. t[1] .. string.format('%06d', tonumber(t[2])) .. ' '
  end
  local fields, nf, ps, pos = {}, 0, {}, seq
  for j = 0, 4 * (np - 1), 4 do
    local a, cur = pend[j + 2], pend[j + 3]
    for i = 1, pend[j + 4] do
      pos = pos + 1
      local sp = str(pos)
      ps[pos - seq] = sp
      fields[nf + 1] = sp
      fields[nf + 2] = str(cur + i) .. stamp .. ARGV[a + 2 * i + 1]
      nf = nf + 2
      if nf == 2 * CHUNK then
        redis.call('HSET', KEYS[2], unpack(fields, 1, nf))
        nf = 0
      end
    end
  end
  if nf > 0 then redis.call('HSET', KEYS[2], unpack(fields, 1, nf)) end
  local added = redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', '100', str(taken) .. '-0', 'p', str(taken))
  if type(added) == 'table' and added.err then
    return redis.error_reply('ERR cqrs: the tail stream refused position ' .. str(taken) ..
      ' (ahead of the position counter, or not a stream): ' .. added.err)
  end
  redis.call('SET', KEYS[1], str(taken))
  local from = 1
  for j = 0, 4 * (np - 1), 4 do
    local k, a, cur, n = pend[j + 1], pend[j + 2], pend[j + 3], pend[j + 4]
    local last = from + n - 1
    for i = from, last, CHUNK do
      redis.call('RPUSH', KEYS[k], unpack(ps, i, math.min(i + CHUNK - 1, last)))
    end
    local ids, ni = nil, 0
    for i = 1, n do
      local id = ARGV[a + 2 * i]
      if id ~= '' then
        ids = ids or {}
        ids[ni + 1] = id
        ids[ni + 2] = str(cur + i)
        ni = ni + 2
        if ni == 2 * CHUNK then
          redis.call('HSET', KEYS[k + 1], unpack(ids, 1, ni))
          ni = 0
        end
      end
    end
    if ni > 0 then redis.call('HSET', KEYS[k + 1], unpack(ids, 1, ni)) end
    from = last + 1
  end
  seq, np = taken, 0
  if written then written = {} end
end

-- Check item j (its key index k, its arguments from ARGV[a]) and accept
-- it into pending; returns its three reply values.
local function check(k, a)
  local ks, kid = KEYS[k], KEYS[k + 1]
  local exp, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local cur = redis.call('LLEN', ks)
  local firstKnown = false
  -- An exact retry of an earlier append: every id present, consecutive, in order.
  if n > 0 and ARGV[a + 2] ~= '' then
    local first = redis.call('HGET', kid, ARGV[a + 2])
    if first then
      firstKnown = true
      first = tonumber(first)
      local same = exp == -1 or exp == -2 or exp == first - 1
      local i = 2
      while same and i <= n do
        local id = ARGV[a + 2 * i]
        same = id ~= '' and tonumber(redis.call('HGET', kid, id) or '-1') == first + i - 1
        i = i + 1
      end
      if same then return 1, first + n - 1, position(ks, first + n - 1) end
    end
  end
  if exp == -2 then
    if cur == 0 then return 2, cur, 0 end
  elseif exp ~= -1 and exp ~= cur then
    return 2, cur, 0
  end
  if firstKnown then return 3, cur, ARGV[a + 2] end
  for i = 1, n do
    local id = ARGV[a + 2 * i]
    if id ~= '' and redis.call('HEXISTS', kid, id) == 1 then return 3, cur, id end
  end
  if n == 0 then return 0, cur, position(ks, cur) end
  local j = 4 * np
  pend[j + 1], pend[j + 2], pend[j + 3], pend[j + 4] = k, a, cur, n
  np = np + 1
  if written then written[ks] = true end
  taken = taken + n
  return 0, cur + n, taken
end

local out, a, m = {}, 2, tonumber(ARGV[1])
if m > 1 then written = {} end
for j = 1, m do
  local k = 2 + 2 * j
  -- A stream appended to earlier in the batch: write that first, so this
  -- item's checks see it.
  if written and written[KEYS[k]] then
    local err = flush()
    if err then return err end
  end
  local code, v, third = check(k, a)
  out[#out + 1] = code
  out[#out + 1] = v
  out[#out + 1] = third
  a = a + 2 + 2 * tonumber(ARGV[a + 1])
end
local err = flush()
if err then return err end
return out
