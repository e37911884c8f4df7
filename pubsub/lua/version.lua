-- Shared by the scripts that change the binding registry or leases (it is
-- put in front of them).
--
-- Registry versions read '<epoch>:<n>'. n counts binding changes; the
-- epoch is a random id (hex, drawn by the caller) given to the version key
-- when it was first written, so it changes only when the key itself was
-- lost (FLUSHALL, a restart without persistence): a version never repeats
-- across a loss, and a subscriber whose group vanished tells a lost
-- registry (another epoch) from a deliberate DeleteGroup (the same epoch).
-- (The server's clock would not do: a test server's clock may stand still.)
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function epoch_of(v)
  if not v then
    return nil
  end
  return string.match(v, '^(%x+):%d+$')
end

-- Writes and returns the next version, in epoch fresh when the key is
-- missing (or from before epochs).
local function bump_version(key, fresh)
  local v = redis.call('GET', key)
  local e, n
  if v then
    e, n = string.match(v, '^(%x+):(%d+)$')
  end
  if not e then
    e, n = fresh, 0
  end
  local nv = e .. ':' .. string.format('%d', tonumber(n) + 1)
  redis.call('SET', key, nv)
  return nv
end
