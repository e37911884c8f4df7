-- Renew the leases a process holds.
-- KEYS: leases, meta
-- ARGV: visibility_us, then id, token pairs
-- Returns id, token of each lease that is lost.
local exp = num(server_us() + tonumber(ARGV[1]))
local lost = {}
for i = 2, #ARGV, 2 do
  local m = get_meta(KEYS[2], ARGV[i])
  if m and m.token == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], exp, m.member)
  else
    table.insert(lost, ARGV[i])
    table.insert(lost, ARGV[i + 1])
  end
end
return lost
