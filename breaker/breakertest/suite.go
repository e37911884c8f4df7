package breakertest

import (
	"testing"

	"github.com/sysdesign/patterns/breaker"
)

// Factory returns a breaker for cfg on the store under test; it registers
// its own clean-up with t. cfg.Clock is the case's manual clock: the
// breaker must decide by it, and so must its store. A factory may set
// fields the case left zero (Name, Store), never ones it set.
type Factory func(t *testing.T, cfg breaker.Config) *breaker.Breaker

// Features declares what a breaker cannot do. No case is optional today;
// the parameter keeps the entry point the shape of the module's other
// suites, so a case can become optional without breaking callers.
type Features struct{}

// Case is one named conformance case.
type Case struct {
	// Name is the subtest's name.
	Name string
	// Run checks breakers from newB.
	Run func(t *testing.T, f Features, newB Factory)
}

// TestBreaker runs every case of Cases as a subtest of t.
func TestBreaker(t *testing.T, f Features, newB Factory) {
	t.Helper()
	for _, c := range Cases {
		c.Test(t, f, newB)
	}
}

// Test runs the case as a subtest of t named c.Name.
func (c Case) Test(t *testing.T, f Features, newB Factory) {
	t.Helper()
	t.Run(c.Name, func(t *testing.T) { c.Run(t, f, newB) })
}
