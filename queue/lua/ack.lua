-- Ack: remove a job whose lease the caller holds.
-- KEYS: leases, jobs, seq, marker, ready, sched
-- ARGV: lease member, call nonce, marker_ttl_ms, now_us ('' = server TIME)
-- Returns {0} when the lease is lost, {1} when acked with jobs left ready
-- (or by an earlier run of this very call), or {2, wait_us} when acked
-- and nothing is ready (wait_us as take's), so that the caller's next
-- Dequeue may wait without asking again.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  if ended_before(KEYS[4], ARGV[2]) then return {1} end
  return {0}
end
mark(KEYS[4], 'done:' .. ARGV[2], ARGV[3])
redis.call('HDEL', KEYS[2], id_of(member_of(ARGV[1])))
forget_seq(KEYS[2], KEYS[3])
if redis.call('EXISTS', KEYS[5]) == 1 then return {1} end
local srv = server_us()
return {2, num(next_wait(KEYS[6], KEYS[1], tonumber(ARGV[4]) or srv, srv))}
