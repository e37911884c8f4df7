package cqrstest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// Backend is one fresh, empty event store under test, as a Factory hands
// it to a case.
type Backend struct {
	// Store is the store under test.
	Store cqrs.EventStore
	// NewHandle returns another handle on the same store, as another
	// process holds it (a connection of its own); nil means Store serves
	// every writer.
	NewHandle func() cqrs.EventStore
}

// handle returns a second handle, or Store.
func (b Backend) handle() cqrs.EventStore {
	if b.NewHandle == nil {
		return b.Store
	}
	return b.NewHandle()
}

// Factory returns a fresh, empty backend for one case; it registers its own
// clean-up with t.
type Factory func(t *testing.T) Backend

// Features declares what a store cannot do; the zero value claims
// everything.
type Features struct {
	// MaxBatch is the most events one Append may hold (a store on a
	// database with a transaction size limit); 0 means no limit. The
	// large-batch case appends min(1234, MaxBatch) events.
	MaxBatch int
}

// Case is one named conformance case.
type Case struct {
	// Name is the subtest's name.
	Name string
	// Run checks the backend.
	Run func(t *testing.T, f Features, b Backend)
}

// TestEventStore runs every case of Cases as a subtest of t, each on a
// fresh backend from newBackend.
func TestEventStore(t *testing.T, f Features, newBackend Factory) {
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
		require.NotNil(t, b.Store, "cqrstest: the factory returned no Store")
		c.Run(t, f, b)
	})
}
