-- Cancel: remove a queued (not leased) job.
-- KEYS: ready, sched, body, meta, seq
-- ARGV: id
-- Returns 1 removed, 0 not found, 2 leased.
local m = get_meta(KEYS[4], ARGV[1])
if not m then return 0 end
if m.token ~= '' then return 2 end
redis.call('ZREM', KEYS[1], m.member)
redis.call('ZREM', KEYS[2], m.member)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
forget_seq(KEYS[4], KEYS[5])
return 1
