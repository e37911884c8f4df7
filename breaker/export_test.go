package breaker

import "time"

// SetStoreClock makes s's scripts take "now" from now instead of the
// server's TIME, so the external conformance test (package breaker_test)
// runs the exact-time suite on real servers too.
func SetStoreClock(s *RedisStore, now func() time.Time) { s.testClock = now }
