package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/pubsub"
)

const (
	firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	chrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// rig is one analytics instance with the bus and store it was given.
type rig struct {
	a     *Analytics
	bus   pubsub.Bus
	store cqrs.EventStore
}

// newMemoryRig returns a started analytics on a memory bus and store,
// closed (with the bus) when the test ends.
func newMemoryRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	bus := pubsub.NewMemory()
	t.Cleanup(func() { _ = bus.Close() })
	cfg.Bus = bus
	if cfg.Store == nil {
		cfg.Store = cqrs.NewMemoryStore()
	}
	return startRig(t, cfg)
}

// newRedisRig returns a started analytics whose bus, store and read model
// are all on tg, under its prefix.
func newRedisRig(t *testing.T, tg *redistest.Target, cfg Config) *rig {
	t.Helper()
	bus, err := pubsub.NewRedis(tg.Client, pubsub.WithPrefix(tg.Prefix+"ps:"), pubsub.WithReadBlock(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	store, err := cqrs.NewRedisStore(tg.Client, cqrs.WithPrefix(tg.Prefix+"es:"))
	require.NoError(t, err)
	cfg.Bus, cfg.Store, cfg.Redis, cfg.Prefix = bus, store, tg.Client, tg.Prefix+"an:"
	return startRig(t, cfg)
}

func startRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	a, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return &rig{a: a, bus: cfg.Bus, store: cfg.Store}
}

// flush waits until every click recorded is in the statistics: at most a
// minute, which a burst on miniredis (its Lua is slow under -race) on a
// loaded machine needs.
func flush(t *testing.T, a *Analytics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, a.Flush(ctx))
}

func stats(t *testing.T, a *Analytics, code string) Stats {
	t.Helper()
	s, err := a.Stats(context.Background(), code)
	require.NoError(t, err)
	return s
}

func record(t *testing.T, a *Analytics, c Click) {
	t.Helper()
	require.NoError(t, a.Record(context.Background(), c))
}

func newBenchBus(b *testing.B) pubsub.Bus {
	bus := pubsub.NewMemory()
	b.Cleanup(func() { _ = bus.Close() })
	return bus
}

func benchStore() cqrs.EventStore { return cqrs.NewMemoryStore() }
