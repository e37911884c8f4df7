-- Release the leases a closing process holds: the jobs are due again at
-- once, Attempt unchanged.
-- KEYS: ready, leases, jobs, wake
-- ARGV: aging_us, wake_ttl_ms, then lease members
-- Returns the ids released, each followed by its attempt.
local aging = tonumber(ARGV[1])
local released = {}
for i = 3, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    local member = member_of(ARGV[i])
    local id = id_of(member)
    local raw = redis.call('HGET', KEYS[3], id)
    local j = raw and parse(raw)
    if j then
      redis.call('ZADD', KEYS[1], ready_score(j, aging), member)
      released[#released + 1] = id
      released[#released + 1] = j.attempt
    end
  end
end
if #released > 0 then wake(KEYS[4], ARGV[2]) end
return released
