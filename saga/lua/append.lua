-- Append (and Renew, with no entries): write transitions of a running saga
-- held with the given fencing token, and extend its lease or finish it.
-- KEYS as in claim.lua.
-- ARGV: now ms ('' = server TIME), lease ms, id, token, final status ('' = running), retention ms, entries...
-- Returns 0 ok, 1 not found, 2 finished, 3 token is not current (lease lost).
--
-- The lease expiry that counts is the index's score (claim.lua reads it);
-- the hash's x is kept by Claim and Renew only, for processes of versions
-- that read it there: a heartbeat renews it within a third of a lease, so
-- they never see a live saga's lease run out. A step's write then costs
-- one command less.
local st = redis.call('HMGET', KEYS[1], 's', 't')
if not st[1] then return 1 end
if st[2] ~= ARGV[4] then return 3 end
if st[1] ~= 'running' then return 2 end
if #ARGV >= 7 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 's', ARGV[5])
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  return 0
end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local exp = now + tonumber(ARGV[2])
if #ARGV < 7 then
  redis.call('HSET', KEYS[1], 'x', exp)
end
redis.call('ZADD', KEYS[3], exp, ARGV[3])
return 0
