package ratelimittest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

// Backend is a source of limiters under test and the clock they decide
// by, as a Factory hands it to a case.
type Backend struct {
	// NewLimiter returns a limiter for alg and l. Limiters of one backend
	// may share storage (a case gives each its own keys).
	NewLimiter func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error)
	// Now returns the time the limiters decide by; nil when Advance is.
	Now func() time.Time
	// Advance moves that clock by d; a negative d moves it back, as NTP
	// may step a wall clock. nil: the limiters' clock cannot be moved,
	// and the cases that need it skip.
	Advance func(d time.Duration)
}

// Factory returns a fresh backend for one case; it registers its own
// clean-up with t.
type Factory func(t *testing.T) Backend

// Features declares what a limiter cannot do; the zero value claims
// everything.
type Features struct {
	// Algorithms the limiter implements; nil means all five.
	Algorithms []ratelimit.Algorithm
}

// AllAlgorithms are the five algorithms of package ratelimit.
var AllAlgorithms = []ratelimit.Algorithm{
	ratelimit.TokenBucket, ratelimit.LeakyBucket, ratelimit.FixedWindow,
	ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter,
}

func (f Features) algorithms() []ratelimit.Algorithm {
	if f.Algorithms == nil {
		return AllAlgorithms
	}
	return f.Algorithms
}

func (f Features) has(alg ratelimit.Algorithm) bool {
	for _, a := range f.algorithms() {
		if a == alg {
			return true
		}
	}
	return false
}

// Case is one named conformance case.
type Case struct {
	// Name is the subtest's name.
	Name string
	// Run checks the backend; it may skip when the backend lacks what the
	// case needs.
	Run func(t *testing.T, f Features, b Backend)
}

// TestLimiter runs every case of Cases as a subtest of t, each on a fresh
// backend from newBackend.
func TestLimiter(t *testing.T, f Features, newBackend Factory) {
	t.Helper()
	for _, c := range Cases {
		c.Test(t, f, newBackend)
	}
}

// Test runs the case as a subtest of t named c.Name, on a fresh backend
// from newBackend.
func (c Case) Test(t *testing.T, f Features, newBackend Factory) {
	t.Helper()
	t.Run(c.Name, func(t *testing.T) {
		b := newBackend(t)
		require.NotNil(t, b.NewLimiter, "ratelimittest: the factory returned no NewLimiter")
		require.False(t, (b.Now == nil) != (b.Advance == nil), "ratelimittest: give both Backend.Now and Advance, or neither")
		c.Run(t, f, b)
	})
}
