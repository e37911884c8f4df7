-- Enqueue: accept a job unless its ID is queued or leased.
-- KEYS: ready, sched, body, meta, seq, wake
-- ARGV: id, payload, priority, run_at_us ('' = now), aging_us, now_us ('' = server TIME), wake_ttl_ms
-- Returns 0 (duplicate) or 1.
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[4], id) == 1 then return 0 end
local now = tonumber(ARGV[6]) or server_us()
local due = tonumber(ARGV[4]) or now
if due < now then due = now end
local seq = redis.call('INCR', KEYS[5])
local m = {prio = tonumber(ARGV[3]), attempt = 1, enq = num(now), due = due, token = '',
  member = string.format('%016.0f', seq) .. id}
redis.call('HSET', KEYS[3], id, ARGV[2])
put_meta(KEYS[4], id, m)
queue_job(KEYS[1], KEYS[2], m, now, tonumber(ARGV[5]))
wake(KEYS[6], ARGV[7])
return 1
