-- Retry or Defer: put a job whose lease the caller holds back in the queue.
-- KEYS: ready, sched, leases, meta, wake, marker
-- ARGV: id, token, at_us ('' = now), counted (1 Retry, 0 Defer), aging_us, now_us ('' = server TIME), wake_ttl_ms, marker_ttl_ms, call nonce
-- Returns 1, or 0 when the lease is lost.
local m = get_meta(KEYS[4], ARGV[1])
if not m or m.token ~= ARGV[2] then
  if redis.call('GET', KEYS[6]) == 'done:' .. ARGV[9] then return 1 end -- a second run of this very call
  return 0
end
mark(KEYS[6], 'done:' .. ARGV[9], ARGV[8])
local now = tonumber(ARGV[6]) or server_us()
local due = tonumber(ARGV[3]) or now
if due < now then due = now end
redis.call('ZREM', KEYS[3], m.member)
m.attempt = m.attempt + tonumber(ARGV[4])
m.due = due
m.token = ''
put_meta(KEYS[4], ARGV[1], m)
if queue_job(KEYS[1], KEYS[2], m, now, tonumber(ARGV[5])) then wake(KEYS[5], ARGV[7]) end
return 1
