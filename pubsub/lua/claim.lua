-- Takes entries for this consumer, with their delivery counts.
-- mode 'own': its own pending entries (after a restart under the same
--   name), oldest first, from cursor ARGV[4] (exclusive), counting this
--   as another delivery.
-- mode 'dead': up to ARGV[6] entries of any consumer idle for at least
--   ARGV[5] ms (the visibility timeout), from cursor ARGV[4] (exclusive),
--   counting this as another delivery, except those among ARGV[7…] (the
--   entries this consumer holds: one whose heartbeat came late on a
--   starved machine is still being handled here, and must be neither
--   queued again nor counted again; XAUTOCLAIM would take it). Entries
--   trimmed away meanwhile are acknowledged, since they cannot be
--   delivered.
-- mode 'retry': entry ARGV[4] again if this consumer still holds it
--   (bumping its delivery count).
-- mode 'lost': up to ARGV[6] of its own pending entries idle for less
--   than ARGV[5] ms that are not among ARGV[7…] (the entries the consumer
--   holds): entries a read took whose reply never reached the consumer (a
--   timeout, a cut connection, a client that sent the read again). Their
--   delivery count stays: the lost read counted a delivery no handler
--   saw. Entries idle longer (handed back, or lost that long) are the
--   'dead' pass's.
-- Both 'dead' and 'lost' leave every held entry alone: the caller lists
-- what it held when it sent the call, and only the caller adds to that,
-- so an entry released while the call was under way (acknowledged) is
-- excluded too, and one it still holds is never handed back to it.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] mode,
-- ARGV[4] cursor or id, ARGV[5] min idle ms, ARGV[6] count, ARGV[7…] held
-- Returns {next cursor ('0-0' when done), {id, {field, value, …},
-- deliveries}, …}.
local out = {'0-0'}
local function count(id)
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] then
    return p[1][2], tonumber(p[1][4])
  end
  return nil, 0
end
local function held()
  local h = {}
  for i = 7, #ARGV do
    h[ARGV[i]] = true
  end
  return h
end
-- claims entry id for this consumer as delivery n, or acknowledges it
-- when it was trimmed away (nothing to deliver).
local function take(id, n)
  local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', n)
  if type(e[1]) == 'table' and type(e[1][2]) == 'table' then
    out[#out + 1] = {id, e[1][2], n}
  else
    redis.call('XACK', KEYS[1], ARGV[1], id)
  end
end
if ARGV[3] == 'own' then
  local start = ARGV[4] == '0-0' and '-' or '(' .. ARGV[4]
  local ps = redis.call('XPENDING', KEYS[1], ARGV[1], start, '+', tonumber(ARGV[6]), ARGV[2])
  for _, p in ipairs(ps) do
    take(p[1], tonumber(p[4]) + 1)
    out[1] = p[1]
  end
  return out
elseif ARGV[3] == 'lost' then
  local h = held()
  local want, idle = tonumber(ARGV[6]), tonumber(ARGV[5])
  local ps = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', want + #ARGV - 6, ARGV[2])
  for _, p in ipairs(ps) do
    if #out > want then
      break
    end
    if not h[p[1]] and tonumber(p[3]) < idle then
      take(p[1], tonumber(p[4]))
    end
  end
  return out
elseif ARGV[3] == 'dead' then
  local h = held()
  local want = tonumber(ARGV[6])
  local start = ARGV[4] == '0-0' and '-' or '(' .. ARGV[4]
  local ps = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', tonumber(ARGV[5]), start, '+', want)
  for _, p in ipairs(ps) do
    if not h[p[1]] then
      take(p[1], tonumber(p[4]) + 1)
    end
  end
  if #ps == want then
    out[1] = ps[#ps][1]
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
