-- Binds a group to a pattern: creates its stream and consumer group
-- (starting at the stream's end), registers the binding and bumps the
-- registry version so that every publisher re-routes. A plain
-- subscription's (ephemeral) group also gets its lease: a key that expires
-- unless renewed (heartbeat.lua), and an entry in the schedule that tells
-- reapers when to look at it (reap.lua).
--
-- Subscribe binds with ARGV[4] = ''. A running member of a durable group
-- that vanished (NOGROUP) binds again with ARGV[4] = the epoch it was bound
-- in: if the registry is still in that epoch and has no binding, the group
-- was deleted on purpose (DeleteGroup) and stays deleted; if the epoch
-- changed, Redis lost its data and the group is bound again.
--
-- KEYS[1] registry, KEYS[2] version, KEYS[3] the group's stream,
-- KEYS[4] lease schedule (zset group -> expiry ms), KEYS[5] the group's lease
-- ARGV[1] group, ARGV[2] pattern, ARGV[3] lease ms ('' for a durable
-- group), ARGV[4] '' or the epoch the group was bound in, ARGV[5] a fresh
-- epoch, used if the registry has none
-- Returns {1, version, created}: bound, created 1 when this call created
-- the binding or the consumer group; {0, pattern}: the group is bound to
-- another pattern; {2, version}: the group was deleted (rebinding only).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[2] then
  return {0, cur}
end
local v = redis.call('GET', KEYS[2])
if not cur and ARGV[4] ~= '' and epoch_of(v) == ARGV[4] then
  return {2, v}
end
-- The first write may be refused (OOM): nothing has changed then.
local created = 0
local r = redis.pcall('XGROUP', 'CREATE', KEYS[3], ARGV[1], '$', 'MKSTREAM')
if type(r) == 'table' and r.err then
  if not string.find(r.err, 'BUSYGROUP') then
    return redis.error_reply(r.err)
  end
else
  created = 1
end
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  v = bump_version(KEYS[2], ARGV[5])
  created = 1
elseif not epoch_of(v) then
  v = bump_version(KEYS[2], ARGV[5])
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[5], '1', 'PX', ARGV[3])
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[3]), ARGV[1])
end
return {1, v, created}
