package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/pubsub"
	"github.com/sysdesign/patterns/pubsub/pubsubtest"
)

// The conformance suite (package pubsubtest) on every bus of the package.

func TestConformanceMemory(t *testing.T) {
	pubsubtest.TestBus(t, pubsubtest.Backend{
		Features: pubsubtest.Features{ExactlyOnce: true, OrderedWithOneWorker: true, LoadMessages: 100_000},
		NewBus: func(t *testing.T) pubsub.Bus {
			b := pubsub.NewMemory()
			require.NoError(t, b.ConfigErr())
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
		// One process: the "other process" is the same bus, and a crash
		// is an Unsubscribe whose drain time has run out.
		Crash: func(_ *testing.T, first pubsub.Bus) (pubsub.Bus, func(pubsub.Subscription)) {
			return first, pubsub.CrashMemorySubscription
		},
	})
}

// redisBackend is the suite's backend on tg. Buses of one test share a
// prefix: they are processes of one fleet.
func redisBackend(tg *redistest.Target) pubsubtest.Backend {
	vis := 30 * time.Second // miniredis: its clock only moves by Pass
	if tg.Mini == nil {
		vis = 1500 * time.Millisecond
	}
	newOn := func(t *testing.T, c redis.UniversalClient) *pubsub.Redis {
		// The suite checks what is delivered, not how fast: on a loaded CI
		// machine under -race a call can take longer than the 2s default
		// timeout (the fault suite checks the bounds).
		b, err := pubsub.NewRedis(c, pubsub.WithPrefix(tg.Prefix+t.Name()+":"), pubsub.WithReadBlock(20*time.Millisecond),
			pubsub.WithVisibilityTimeout(vis), pubsub.WithTimeout(10*time.Second))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	n := 100_000
	if tg.Mini != nil {
		n = 5_000
	}
	return pubsubtest.Backend{
		// A delivery lost on its way comes back within a second while its
		// consumer lives (the reader takes back its own lost entries);
		// the visibility timeout is the promise for a consumer that died.
		Features: pubsubtest.Features{OrderedWithOneWorker: true, DurableGroups: true, LoadMessages: n, Redelivery: vis},
		NewBus:   func(t *testing.T) pubsub.Bus { return newOn(t, tg.Client) },
		Crash: func(t *testing.T, _ pubsub.Bus) (pubsub.Bus, func(pubsub.Subscription)) {
			c, faults := tg.NewClient()
			b := newOn(t, c)
			return b, func(pubsub.Subscription) {
				faults.Cut()
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = b.Shutdown(ctx)
			}
		},
		Pass: func(d time.Duration) {
			if tg.Mini != nil {
				tg.Advance(d)
			}
		},
	}
}

func TestConformanceRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		pubsubtest.TestBus(t, redisBackend(tg))
	})
}
