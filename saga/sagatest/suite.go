package sagatest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/saga"
)

// Backend is one fresh, empty saga log under test, as a Factory hands it to
// a case.
type Backend struct {
	// Log is the log under test.
	Log saga.Log
	// Other is a second handle on the same records, as another process
	// sees them (its own connection); nil means Log serves as both.
	Other saga.Log
	// Advance moves the clock the log takes "now" from forward by d: for
	// lease expiry, and for the retention of finished sagas unless
	// Features.NoRetentionTimeTravel says it cannot.
	Advance func(d time.Duration)
	// Retention is how long the log keeps a finished saga (its
	// WithRetention); 0 skips the retention case.
	Retention time.Duration
}

// Factory returns a fresh, empty backend for one case; it registers its own
// clean-up with t.
type Factory func(t *testing.T) Backend

// Features declares what a backend cannot do; the zero value claims
// everything.
type Features struct {
	// NoRetentionTimeTravel: finished sagas expire by a clock Advance
	// cannot move (a real Redis server's key TTLs), so the case that waits
	// out the retention skips. The backend should then check its expiry
	// some other way (saga's Redis log checks the keys' TTLs).
	NoRetentionTimeTravel bool
}

// Case is one named conformance case.
type Case struct {
	// Name is the subtest's name.
	Name string
	// Run checks the backend; it may skip when f says the backend cannot
	// do what the case needs.
	Run func(t *testing.T, f Features, b Backend)
}

// TestLog runs every case of Cases as a subtest of t, each on a fresh
// backend from newBackend.
func TestLog(t *testing.T, f Features, newBackend Factory) {
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
		require.NotNil(t, b.Log, "sagatest: the factory returned no Log")
		require.NotNil(t, b.Advance, "sagatest: the factory returned no Advance: the cases need a clock they can move")
		if b.Other == nil {
			b.Other = b.Log
		}
		c.Run(t, f, b)
	})
}
