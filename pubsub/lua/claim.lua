-- Takes entries for this consumer, with their delivery counts.
-- mode 'own': its own pending entries (after a restart under the same
--   name), oldest first, from cursor ARGV[4] (exclusive), counting this
--   as another delivery.
-- mode 'dead': entries of any consumer idle for at least ARGV[5] ms
--   (XAUTOCLAIM from cursor ARGV[4]); entries trimmed away meanwhile are
--   acknowledged, since they cannot be delivered.
-- mode 'retry': entry ARGV[4] again if this consumer still holds it
--   (bumping its delivery count).
-- mode 'lost': up to ARGV[6] of its own pending entries that are not
--   among ARGV[7…] (the entries the consumer holds): entries a read took
--   whose reply never reached the consumer (a timeout, a cut connection,
--   a client that sent the read again). Their delivery count stays: the
--   lost read counted a delivery no handler saw.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] mode,
-- ARGV[4] cursor or id, ARGV[5] min idle ms, ARGV[6] count
-- Returns {next cursor, {id, {field, value, …}, deliveries}, …}.
local out = {'0-0'}
local function count(id)
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] then
    return p[1][2], tonumber(p[1][4])
  end
  return nil, 0
end
if ARGV[3] == 'own' then
  local start = ARGV[4] == '0-0' and '-' or '(' .. ARGV[4]
  local ps = redis.call('XPENDING', KEYS[1], ARGV[1], start, '+', tonumber(ARGV[6]), ARGV[2])
  for _, p in ipairs(ps) do
    local n = tonumber(p[4]) + 1
    local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, p[1], 'RETRYCOUNT', n)
    if type(e[1]) == 'table' and type(e[1][2]) == 'table' then
      out[#out + 1] = {p[1], e[1][2], n}
    else
      redis.call('XACK', KEYS[1], ARGV[1], p[1])
    end
    out[1] = p[1]
  end
  return out
elseif ARGV[3] == 'lost' then
  local held = {}
  for i = 7, #ARGV do
    held[ARGV[i]] = true
  end
  local want = tonumber(ARGV[6])
  local ps = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', want + #ARGV - 6, ARGV[2])
  for _, p in ipairs(ps) do
    if #out > want then
      break
    end
    if not held[p[1]] then
      local n = tonumber(p[4])
      local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, p[1], 'RETRYCOUNT', n)
      if type(e[1]) == 'table' and type(e[1][2]) == 'table' then
        out[#out + 1] = {p[1], e[1][2], n}
      else
        redis.call('XACK', KEYS[1], ARGV[1], p[1])
      end
    end
  end
  return out
elseif ARGV[3] == 'dead' then
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[5], ARGV[4], 'COUNT', tonumber(ARGV[6]))
  out[1] = r[1]
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' and type(e[2]) == 'table' then
      local _, n = count(e[1])
      out[#out + 1] = {e[1], e[2], n}
    end
  end
  if type(r[3]) == 'table' then
    for _, id in ipairs(r[3]) do
      redis.call('XACK', KEYS[1], ARGV[1], id)
    end
  end
  return out
end
-- retry
local owner, n = count(ARGV[4])
if owner ~= ARGV[2] then
  return out
end
local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[4], 'RETRYCOUNT', n + 1)
if type(e[1]) == 'table' then
  out[#out + 1] = {e[1][1], e[1][2], n + 1}
end
return out
