-- Release the leases a closing process holds: the jobs are due again at
-- once, Attempt unchanged.
-- KEYS: ready, leases, meta, wake
-- ARGV: aging_us, wake_ttl_ms, then id, token pairs
-- Returns the ids released, each followed by its attempt.
local aging = tonumber(ARGV[1])
local released = {}
for i = 3, #ARGV, 2 do
  local m = get_meta(KEYS[3], ARGV[i])
  if m and m.token == ARGV[i + 1] then
    redis.call('ZREM', KEYS[2], m.member)
    m.token = ''
    put_meta(KEYS[3], ARGV[i], m)
    redis.call('ZADD', KEYS[1], num(m.due - m.prio * aging), m.member)
    table.insert(released, ARGV[i])
    table.insert(released, m.attempt)
  end
end
if #released > 0 then wake(KEYS[4], ARGV[2]) end
return released
