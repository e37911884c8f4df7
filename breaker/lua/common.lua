-- Prepended to every breaker script; mirrors the local state machine in breaker.go.
-- KEYS[1]: the circuit's hash, one per Name:
--   s = state (0 closed, 1 half-open, 2 open)
--   e = epoch: the current period's id, max(now µs, previous + 1) at every change
--   u = µs: end of the open period, or of the half-open lease (no news from
--       the probes by then: they are presumed lost and the period restarts)
--   p = probes admitted, k = probes succeeded (half-open)
-- ARGV: now µs ('' = server TIME), key TTL ms, pub/sub channel ('' = none),
--       Name, OpenTimeout µs, HalfOpenMaxCalls[, epoch, outcome s|f|i]
-- Returns "admitted state epoch remaining-µs" (one string: cheaper to decode than an array).
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local h = redis.call('HMGET', key, 's', 'e', 'u', 'p', 'k')
local s, e, u = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0
local p, k = tonumber(h[4]) or 0, tonumber(h[5]) or 0
local timeout, maxp = tonumber(ARGV[5]), tonumber(ARGV[6])

local function remaining()
  if s == 0 or u <= now then return 0 end
  return u - now
end

local function reply(admitted)
  return string.format('%d %d %.0f %.0f', admitted, s, e, remaining())
end

local function save()
  -- numbers formatted here: Lua's own formatting would round 16-digit µs
  redis.call('HSET', key, 's', s, 'e', string.format('%.0f', e), 'u', string.format('%.0f', u), 'p', p, 'k', k)
  redis.call('PEXPIRE', key, ARGV[2])
end

-- move starts a new period in state to, lasting until till.
local function move(to, till)
  s, u, p, k = to, till, 0, 0
  e = math.max(now, e + 1)
end

-- announce tells every subscribed breaker of the change.
local function announce()
  if ARGV[3] ~= '' then
    redis.call('PUBLISH', ARGV[3], string.format('%d %.0f %.0f %s', s, e, remaining(), ARGV[4]))
  end
end
