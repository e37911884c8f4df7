-- Next: Ack a delivery, then Dequeue (take, lua/take.lua), in one call.
-- KEYS: ready, sched, leases, jobs, marker, wake (as take), seq, marker of the delivery acked
-- ARGV: as take, then the acked delivery's lease member, call nonce
-- Returns {-1} when the acked delivery's lease is lost (nothing is
-- dequeued), else what take returns.

-- A second run of this very call (its reply was lost) returns what the
-- first one leased, before the ack below finds its own ack done.
local again = leased_before()
if again then return again end
if redis.call('ZREM', KEYS[3], ARGV[9]) == 1 then
  mark(KEYS[8], 'done:' .. ARGV[10], ARGV[6])
  redis.call('HDEL', KEYS[4], id_of(member_of(ARGV[9])))
  forget_seq(KEYS[4], KEYS[7])
elseif not ended_before(KEYS[8], ARGV[10]) then
  return {-1}
end
return take()
