-- Claim: create a saga, or take over one whose lease expired.
-- KEYS[1]: the saga's hash {s = status, t = fencing token, x = lease expiry ms as of the last Claim or Renew}
-- KEYS[2]: the saga's entries (a list of JSON)   KEYS[3]: the shard's index of running sagas (zset id -> lease expiry)
-- A running saga's lease expiry is its score in the index, which every write extends (see append.lua).
-- ARGV: now ms ('' = server TIME), lease ms, id, final status ('' = running), retention ms, entries...
-- Returns {0} not found, {1, token} created, {2, 0, status, entries} finished,
-- {3, ms left} running elsewhere, {4, token, 'running', entries} taken over.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local st = redis.call('HGET', KEYS[1], 's')
if not st then
  if #ARGV < 6 then return {0} end
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 's', ARGV[4], 't', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  else
    local exp = now + tonumber(ARGV[2])
    redis.call('HSET', KEYS[1], 's', 'running', 't', 1, 'x', exp)
    redis.call('ZADD', KEYS[3], exp, ARGV[3])
  end
  return {1, 1}
end
if st ~= 'running' then
  return {2, 0, st, redis.call('LRANGE', KEYS[2], 0, -1)}
end
-- The index holds every running saga; were its entry lost, the hash's x
-- (the last Claim or Renew) stands in.
local exp = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[3]) or redis.call('HGET', KEYS[1], 'x'))
if exp and exp > now then return {3, exp - now} end
local tok = redis.call('HINCRBY', KEYS[1], 't', 1)
exp = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'x', exp)
redis.call('ZADD', KEYS[3], exp, ARGV[3])
return {4, tok, 'running', redis.call('LRANGE', KEYS[2], 0, -1)}
