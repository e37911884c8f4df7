-- Wake: pass a wake-up on to any process's blocked Dequeues.
-- KEYS: wake
-- ARGV: wake_ttl_ms
wake(KEYS[1], ARGV[1])
return 1
