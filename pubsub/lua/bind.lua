-- Binds a group to a pattern: creates its stream and consumer group
-- (starting at the stream's end), registers the binding and bumps the
-- registry version so that every publisher re-routes.
-- KEYS[1] registry, KEYS[2] version, KEYS[3] the group's stream,
-- KEYS[4] ephemeral leases (zset group -> expiry ms)
-- ARGV[1] group, ARGV[2] pattern, ARGV[3] lease ms for an ephemeral
-- group, '' for a durable one
-- Returns {1, version} when bound, {0, pattern} when the group is bound to
-- another pattern.
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[2] then
  return {0, cur}
end
local r = redis.pcall('XGROUP', 'CREATE', KEYS[3], ARGV[1], '$', 'MKSTREAM')
if type(r) == 'table' and r.err and not string.find(r.err, 'BUSYGROUP') then
  return redis.error_reply(r.err)
end
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('INCR', KEYS[2])
end
if ARGV[3] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), ARGV[1])
end
return {1, redis.call('GET', KEYS[2])}
