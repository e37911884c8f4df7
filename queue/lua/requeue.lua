-- Retry or Defer: put a job whose lease the caller holds back in the queue.
-- KEYS: ready, sched, leases, jobs, wake, marker
-- ARGV: lease member, at_us ('' = now), counted (1 Retry, 0 Defer), aging_us, now_us ('' = server TIME), wake_ttl_ms, marker_ttl_ms, call nonce,
--       pass_on ('1': no Dequeue of the caller's process is blocked)
-- Returns 1, 2 (done, and the caller is to wake one of its Dequeues: see
-- pass_wake), or 0 when the lease is lost.
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then
  if ended_before(KEYS[6], ARGV[8]) then return 1 end
  return 0
end
mark(KEYS[6], 'done:' .. ARGV[8], ARGV[7])
local member = member_of(ARGV[1])
local id = id_of(member)
local raw = redis.call('HGET', KEYS[4], id)
local j = raw and parse(raw)
if not j then return 1 end -- a record lost to a flush: nothing to put back
local now = tonumber(ARGV[5]) or server_us()
local due = tonumber(ARGV[2]) or now
if due < now then due = now end
j.attempt = j.attempt + tonumber(ARGV[3])
j.due = due
rewrite(KEYS[4], id, j, raw)
if queue_job(KEYS[1], KEYS[2], member, j, now, tonumber(ARGV[4])) then return pass_wake(KEYS[5], ARGV[6], ARGV[9]) end
return 1
