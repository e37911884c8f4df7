package pubsub

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait before retry number attempt (1 = the first retry):
// min·2^(attempt-1) capped at max, with equal jitter.
func (d *delivery) backoff(attempt int) time.Duration {
	if d.backoffMax <= 0 {
		return 0
	}
	w := d.backoffMin
	for i := 1; i < attempt && w < d.backoffMax; i++ {
		if w > d.backoffMax/2 { // doubling would pass the cap, or overflow
			w = d.backoffMax
			break
		}
		w *= 2
	}
	w = min(w, d.backoffMax)
	if w <= 1 {
		return w
	}
	half := w / 2
	return half + time.Duration(rand.Int64N(int64(w-half)+1))
}

// sleep waits d or until done is closed; it reports whether d elapsed.
func sleep(d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
