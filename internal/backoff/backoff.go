// Package backoff is the one retry-wait helper of the module: capped
// exponential backoff with a choice of jitter, and a sleep that ends
// early with its context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jitter says how much of a wait is random.
type Jitter int

const (
	// None waits exactly min·2^(attempt-1), capped.
	None Jitter = iota
	// Equal waits half of it plus a random part of the other half: spread
	// out, and never much shorter than intended.
	Equal
	// Full waits a random time in [0, capped wait]: the widest spread, for
	// many processes retrying the same resource.
	Full
)

// Policy is min doubling per attempt up to max, with jitter.
type Policy struct {
	Min, Max time.Duration
	Jitter   Jitter
}

// Capped returns lo·2^(attempt-1) capped at hi, without overflow;
// attempt 1 is the first retry. A non-positive lo or hi gives 0.
func Capped(lo, hi time.Duration, attempt int) time.Duration {
	if lo <= 0 || hi <= 0 {
		return 0
	}
	w := lo
	for i := 1; i < attempt && w < hi; i++ {
		if w > hi/2 { // doubling would pass the cap, or overflow
			return hi
		}
		w *= 2
	}
	return min(w, hi)
}

// Wait returns the wait before retry number attempt under p.
func (p Policy) Wait(attempt int) time.Duration {
	w := Capped(p.Min, p.Max, attempt)
	if w <= 1 {
		return w
	}
	switch p.Jitter {
	case Equal:
		half := w / 2
		return half + rand.N(w-half+1)
	case Full:
		return rand.N(w + 1)
	}
	return w
}

// Sleep waits d or until ctx is done, and returns ctx's error in that
// case; a non-positive d returns at once (ctx's error, if any).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
