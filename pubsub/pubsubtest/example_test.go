package pubsubtest_test

import (
	"testing"

	"github.com/sysdesign/patterns/pubsub"
	"github.com/sysdesign/patterns/pubsub/pubsubtest"
)

// A bus proves it conforms from a test of its own package. Here the
// memory bus stands for yours: NewBus makes a bus for one case and closes
// it when the case ends; Features says what it promises beyond the
// basics, and the cases that need more are skipped.
func ExampleTestBus() {
	testConformance := func(t *testing.T) {
		pubsubtest.TestBus(t, pubsubtest.Backend{
			Features: pubsubtest.Features{ExactlyOnce: true, OrderedWithOneWorker: true},
			NewBus: func(t *testing.T) pubsub.Bus {
				b := pubsub.NewMemory()
				t.Cleanup(func() { _ = b.Close() })
				return b
			},
		})
	}
	_ = testConformance // in your code: func TestConformance(t *testing.T) { … }
}
