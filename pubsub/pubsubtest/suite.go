// Package pubsubtest is the conformance suite of pubsub.Bus: a table of
// named cases that every bus of package pubsub passes (Memory, Redis on
// miniredis, a real Redis and a Redis Cluster), exported so that another
// implementation (on NATS, Kafka, a database…) can prove it behaves the
// same way.
//
// Use it from a test of your bus:
//
//	func TestConformance(t *testing.T) {
//		pubsubtest.TestBus(t, pubsubtest.Backend{
//			Features: pubsubtest.Features{DurableGroups: true, OrderedWithOneWorker: true},
//			NewBus: func(t *testing.T) pubsub.Bus {
//				b := mybus.New(broker)
//				t.Cleanup(func() { _ = b.Close() })
//				return b
//			},
//		})
//	}
//
// Each case runs as a subtest named after it (run one with -run
// 'TestConformance/RetryThenSucceed'). A bus outside package pubsub reads
// the options its Subscribe is given with pubsub.ResolveSubscribeOptions;
// the suite passes WithGroup, WithWorkers, WithMaxAttempts and WithBackoff
// (1–2ms, so that retries are quick), and expects the errors of package
// pubsub (ErrInvalidTopic, ErrInvalidConfig, ErrGroupBound, ErrClosed,
// ErrDrainTimeout, ErrHandBack) and its dead-letter metadata (the MetaDead…
// keys on DefaultDeadTopic). Cases that need a feature the bus lacks are
// skipped, with the reason.
package pubsubtest

import (
	"testing"
	"time"

	"github.com/sysdesign/patterns/pubsub"
)

// Features says what a bus supports beyond what every bus must do.
type Features struct {
	// ExactlyOnce: each message reaches each group (or plain subscription)
	// exactly once; without it the suite accepts redeliveries (at least
	// once) and counts distinct messages.
	ExactlyOnce bool
	// OrderedWithOneWorker: a subscription with one worker (the default)
	// gets one publisher's messages in publish order.
	OrderedWithOneWorker bool
	// DurableGroups: the buses NewBus returns in one test share their
	// broker (as the processes of a fleet do), and a group keeps the
	// messages published while none of its members runs, for the next
	// member on any bus; a message handed back at Shutdown (ErrHandBack)
	// reaches a member that subscribes afterwards.
	DurableGroups bool
	// LoadMessages is how many messages the load case publishes (default
	// 10 000).
	LoadMessages int
	// Redelivery is the longest an at-least-once bus may take to deliver
	// again a message it delivered but never saw acknowledged (a delivery
	// lost on its way, a consumer that crashed): on a Redis bus, its
	// visibility timeout. The cases that count every message wait that
	// much longer than usual before they fail. Zero: the bus loses no
	// delivery on its way.
	Redelivery time.Duration
}

// Backend is a bus implementation under the suite.
type Backend struct {
	Features Features
	// NewBus returns a new bus, which it closes when the test ends (the
	// suite closes some itself: Close and Shutdown must tolerate being
	// called again). With DurableGroups, the buses of one test share
	// topics and groups.
	NewBus func(t *testing.T) pubsub.Bus
	// Crash, if set, returns a bus standing for another process on
	// first's broker, and a function that crashes that process (it stops
	// without finishing or releasing what its handlers hold; sub is the
	// subscription whose handler holds a message). Without it the
	// crash-recovery case is skipped.
	Crash func(t *testing.T, first pubsub.Bus) (other pubsub.Bus, crash func(sub pubsub.Subscription))
	// Pass, if set, makes d of the broker's time pass (a broker whose
	// clock is simulated, to reach its redelivery timeout).
	Pass func(d time.Duration)
}

// Case is one named behaviour of the suite.
type Case struct {
	Name string
	Run  func(t *testing.T, be Backend)
}

// Cases is the suite, in the order TestBus runs it.
var Cases = []Case{
	{"WildcardRouting", WildcardRouting},
	{"SubscribeGetsOnlyLaterMessages", SubscribeGetsOnlyLaterMessages},
	{"InvalidArguments", InvalidArguments},
	{"GroupsShareAndEachGetsAll", GroupsShareAndEachGetsAll},
	{"RetryThenSucceed", RetryThenSucceed},
	{"DeadLetterAfterMaxAttempts", DeadLetterAfterMaxAttempts},
	{"PanicIsAnError", PanicIsAnError},
	{"OrderPerSubscription", OrderPerSubscription},
	{"KilledConsumerRedelivered", KilledConsumerRedelivered},
	{"ManyPublishers", ManyPublishers},
	{"UnsubscribeStopsDelivery", UnsubscribeStopsDelivery},
	{"SubscribeContextEndsSubscription", SubscribeContextEndsSubscription},
	{"CloseDrainsInFlight", CloseDrainsInFlight},
	{"ShutdownDeadlineCancelsHandlers", ShutdownDeadlineCancelsHandlers},
	{"HandBackOnUnsubscribe", HandBackOnUnsubscribe},
	{"HandBackOnShutdown", HandBackOnShutdown},
	{"DeclaredGroupKeepsEarlyMessages", DeclaredGroupKeepsEarlyMessages},
	{"DurableGroupKeepsWhatWasPublishedWhileDown", DurableGroupKeepsWhatWasPublishedWhileDown},
	{"StatsCount", StatsCount},
	{"DepthsReportBacklog", DepthsReportBacklog},
	{"Concurrent", Concurrent},
}

// TestBus runs every case of Cases on be, each as a subtest.
func TestBus(t *testing.T, be Backend) {
	if be.NewBus == nil {
		t.Fatal("pubsubtest: Backend.NewBus is nil")
	}
	if be.Features.LoadMessages <= 0 {
		be.Features.LoadMessages = 10_000
	}
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, be) })
	}
}
