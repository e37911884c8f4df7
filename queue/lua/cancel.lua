-- Cancel: remove a queued (not leased) job.
-- KEYS: ready, sched, jobs, seq
-- ARGV: id
-- Returns 1 removed, 0 not found, 2 leased.
local raw = redis.call('HGET', KEYS[3], ARGV[1])
local j = raw and parse(raw)
if not j then return 0 end
-- A job is in exactly one of ready, scheduled and leases.
local member = j.seq .. ARGV[1]
if redis.call('ZREM', KEYS[1], member) + redis.call('ZREM', KEYS[2], member) == 0 then return 2 end
redis.call('HDEL', KEYS[3], ARGV[1])
forget_seq(KEYS[3], KEYS[4])
return 1
