package ratelimittest_test

import (
	"testing"

	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/ratelimit/ratelimittest"
)

// TestWallClockBackend: a backend whose clock cannot be moved still runs
// the clock-free cases (the others skip), and they hold on the wall clock.
func TestWallClockBackend(t *testing.T) {
	ratelimittest.TestLimiter(t, ratelimittest.Features{}, func(t *testing.T) ratelimittest.Backend {
		return ratelimittest.Backend{
			NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
				return ratelimit.NewMemory(alg, l)
			},
		}
	})
}
