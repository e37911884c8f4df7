-- Enqueue: accept a job unless its ID is queued or leased.
-- KEYS: ready, sched, jobs, seq, wake
-- ARGV: id, payload, priority, run_at_us ('' = now), aging_us, now_us ('' = server TIME), wake_ttl_ms, nonce,
--       pass_on ('1': no Dequeue of the caller's process is blocked)
-- Returns 0 (duplicate), 1 (accepted, now or by an earlier run of this
-- very call: the nonce tells) or 2 (accepted, and the caller is to wake
-- one of its Dequeues: see pass_wake).
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  local old = parse(redis.call('HGET', KEYS[3], id))
  if old and old.nonce == ARGV[8] then return 1 end
  return 0
end
local now = tonumber(ARGV[6]) or server_us()
local due = tonumber(ARGV[4]) or now
if due < now then due = now end
local seq = string.format('%016.0f', redis.call('INCR', KEYS[4]))
local j = {prio = tonumber(ARGV[3]), due = due}
redis.call('HSET', KEYS[3], id, ARGV[3] .. '|1|' .. num(now) .. '|' .. num(due) .. '|' .. seq .. '|' .. ARGV[8] .. '|' .. ARGV[2])
if queue_job(KEYS[1], KEYS[2], seq .. id, j, now, tonumber(ARGV[5])) then return pass_wake(KEYS[5], ARGV[7], ARGV[9]) end
return 1
