-- Dequeue: see take (lua/take.lua).
-- KEYS: ready, sched, leases, jobs, marker, wake
-- ARGV: now_us, visibility_us, token, aging_us, batch, marker_ttl_ms, wake_ttl_ms, pass_on
return leased_before() or take()
