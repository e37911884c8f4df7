-- Ack: remove a job whose lease the caller holds.
-- KEYS: leases, body, meta, seq, marker
-- ARGV: id, token, marker_ttl_ms, call nonce
-- Returns 1, or 0 when the lease is lost.
local m = get_meta(KEYS[3], ARGV[1])
if not m or m.token ~= ARGV[2] then
  if redis.call('GET', KEYS[5]) == 'done:' .. ARGV[4] then return 1 end -- a second run of this very call
  return 0
end
mark(KEYS[5], 'done:' .. ARGV[4], ARGV[3])
redis.call('ZREM', KEYS[1], m.member)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
forget_seq(KEYS[3], KEYS[4])
return 1
