-- Unbinds ephemeral groups whose lease expired (their process died
-- without unsubscribing) and deletes their streams. The stream keys are
-- ARGV[1]..group: they share the registry's hash tag, hence its slot.
-- KEYS[1] registry, KEYS[2] version, KEYS[3] ephemeral leases
-- ARGV[1] stream key prefix
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, g in ipairs(gone) do
  redis.call('HDEL', KEYS[1], g)
  redis.call('DEL', ARGV[1] .. g)
  redis.call('ZREM', KEYS[3], g)
end
if #gone > 0 then
  redis.call('INCR', KEYS[2])
end
return #gone
