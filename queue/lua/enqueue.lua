-- Enqueue: accept a job unless its ID is queued or leased.
-- KEYS: ready, sched, body, meta, seq, wake
-- ARGV: id, payload, priority, run_at_us ('' = now), aging_us, now_us ('' = server TIME), wake_ttl_ms, nonce
-- Returns 0 (duplicate) or 1 (accepted, now or by an earlier run of this
-- very call: the nonce tells).
local id = ARGV[1]
local old = get_meta(KEYS[4], id)
if old then
  if old.nonce == ARGV[8] then return 1 end
  return 0
end
local now = tonumber(ARGV[6]) or server_us()
local due = tonumber(ARGV[4]) or now
if due < now then due = now end
local seq = redis.call('INCR', KEYS[5])
local m = {prio = tonumber(ARGV[3]), attempt = 1, enq = num(now), due = due, token = '',
  member = string.format('%016.0f', seq) .. id, nonce = ARGV[8]}
redis.call('HSET', KEYS[3], id, ARGV[2])
put_meta(KEYS[4], id, m)
if queue_job(KEYS[1], KEYS[2], m, now, tonumber(ARGV[5])) then wake(KEYS[6], ARGV[7]) end
return 1
