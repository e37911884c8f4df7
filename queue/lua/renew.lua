-- Renew the leases a process holds.
-- KEYS: leases
-- ARGV: visibility_us, then lease members
-- Returns the lease members that are lost.
local exp = num(server_us() + tonumber(ARGV[1]))
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], exp, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
