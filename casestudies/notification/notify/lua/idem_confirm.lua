-- Confirm a claim once its notification is accepted: "p:<ARGV[1]>" becomes
-- "d:<ARGV[1]>" for ARGV[2] ms (the idempotency TTL). Returns 0 if the key
-- no longer holds this pending claim (it expired).
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'd:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
