-- Ack: remove a job whose lease the caller holds.
-- KEYS: leases, jobs, seq, marker
-- ARGV: lease member, call nonce, marker_ttl_ms
-- Returns 1, or 0 when the lease is lost.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  if ended_before(KEYS[4], ARGV[2]) then return 1 end
  return 0
end
mark(KEYS[4], 'done:' .. ARGV[2], ARGV[3])
redis.call('HDEL', KEYS[2], id_of(member_of(ARGV[1])))
forget_seq(KEYS[2], KEYS[3])
return 1
