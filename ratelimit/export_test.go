package ratelimit

import "time"

// SetRedisClock makes r decide by now instead of the server's TIME, with
// TTLs lengthened so that real time cannot expire fake-time state: the
// external conformance test (package ratelimit_test) runs the exact-time
// cases on real servers, whose clock it cannot move, this way.
func SetRedisClock(r *Redis, now func() time.Time) {
	r.testClock = now
	r.ttlSlackMS = int64(time.Hour / time.Millisecond)
	r.setLimitArgs()
}
