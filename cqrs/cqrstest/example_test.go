package cqrstest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/cqrs/cqrstest"
)

// memoryBackend is the factory a store's author writes: a fresh, empty
// store per case. cqrs's memory store stands in for yours here; a store
// with connections also sets NewHandle, so the racing cases write through
// several.
func memoryBackend(t *testing.T) cqrstest.Backend {
	return cqrstest.Backend{Store: cqrs.NewMemoryStore()}
}

// TestMemoryStoreConforms is the whole of what a store's author adds to
// the store's tests.
func TestMemoryStoreConforms(t *testing.T) {
	cqrstest.TestEventStore(t, cqrstest.Features{}, memoryBackend)
}

// TestMemorySnapshotAndCheckpointStoresConform: the snapshot and
// checkpoint suites take a factory of fresh, empty stores.
func TestMemorySnapshotAndCheckpointStoresConform(t *testing.T) {
	cqrstest.TestSnapshotStore(t, func(t *testing.T) cqrs.SnapshotStore { return cqrs.NewMemorySnapshotStore() })
	cqrstest.TestCheckpointStore(t, func(t *testing.T) cqrs.CheckpointStore { return cqrs.NewMemoryCheckpointStore() })
}

// The test that proves a store conforms is one call
// (TestMemoryStoreConforms above); each case is a subtest, so `go test -run
// 'TestMemoryStoreConforms/expected_versions'` runs one. A caller can also
// pick cases from Cases and run them itself.
func Example() {
	_ = func(t *testing.T) { cqrstest.TestEventStore(t, cqrstest.Features{}, memoryBackend) }

	_ = func(t *testing.T) {
		for _, c := range cqrstest.Cases {
			if strings.HasPrefix(c.Name, "racing") {
				c.Test(t, cqrstest.Features{}, memoryBackend)
			}
		}
	}
	for _, c := range cqrstest.Cases[:3] {
		fmt.Println(c.Name)
	}
	// Output:
	// empty store
	// append and load round trip
	// returned events are copies
}
