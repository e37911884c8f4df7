-- Unbinds one ephemeral group whose lease expired and deletes its stream,
-- unless its lease was renewed since expired.lua listed it. Every key it
-- touches is declared (they share the namespace's hash tag, hence a slot).
-- KEYS[1] registry, KEYS[2] version, KEYS[3] ephemeral leases,
-- KEYS[4] the group's stream; ARGV[1] group
-- Returns 1 when reaped, 0 when the group is alive (or already gone).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not exp or tonumber(exp) > now then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
if redis.call('HDEL', KEYS[1], ARGV[1]) > 0 then
  redis.call('INCR', KEYS[2])
end
return 1
