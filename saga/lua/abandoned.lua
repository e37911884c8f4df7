-- Abandoned: ids in one index shard whose lease expired.
-- KEYS[1]: the shard's index (zset id -> lease expiry ms). ARGV: now ms ('' = server TIME), max.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
