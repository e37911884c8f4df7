package saga

import "time"

// SetRedisLogClock makes l take "now" from now instead of the server's
// TIME, so the external conformance test (package saga_test) can move a
// Redis log's lease clock.
func SetRedisLogClock(l *RedisLog, now func() time.Time) { l.testNow = now }
