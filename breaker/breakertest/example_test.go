package breakertest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/breaker/breakertest"
)

// ownBreaker is the factory a service writes: its breakers as it builds
// them (here with no Store), on the case's Config.
func ownBreaker(t *testing.T, cfg breaker.Config) *breaker.Breaker {
	if cfg.Name == "" {
		cfg.Name = "payments"
	}
	b, err := breaker.New(cfg)
	require.NoError(t, err)
	return b
}

// TestOwnBreakerConforms is the whole of what a service adds to its tests.
func TestOwnBreakerConforms(t *testing.T) {
	breakertest.TestBreaker(t, breakertest.Features{}, ownBreaker)
}

// The test that proves breakers conform is one call
// (TestOwnBreakerConforms above); each case is a subtest, so `go test -run
// 'TestOwnBreakerConforms/FailedProbeReopens'` runs one. A caller can also
// pick cases from Cases and run them itself.
func Example() {
	_ = func(t *testing.T) { breakertest.TestBreaker(t, breakertest.Features{}, ownBreaker) }

	for _, c := range breakertest.Cases[:3] {
		fmt.Println(c.Name)
	}
	// Output:
	// ClosedRunsFnWithCallersContext
	// ConsecutiveFailuresOpen
	// OpenRejectsWithRemainingTime
}
