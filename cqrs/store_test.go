package cqrs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/cqrs/cqrstest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// TestEventStoreConformance runs the cqrstest suite against every
// EventStore, so that the memory and Redis stores cannot drift apart.
func TestEventStoreConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		cqrstest.TestEventStore(t, cqrstest.Features{}, func(t *testing.T) cqrstest.Backend {
			return cqrstest.Backend{Store: cqrs.NewMemoryStore()}
		})
	})
	// A store without a batch append of its own: AppendBatch appends one
	// item at a time, with the same results.
	t.Run("unbatched", func(t *testing.T) {
		cqrstest.TestEventStore(t, cqrstest.Features{}, func(t *testing.T) cqrstest.Backend {
			s := cqrs.NewMemoryStore()
			return cqrstest.Backend{Store: struct {
				cqrs.EventStore
				cqrs.Header
				cqrs.Waiter
			}{s, s, s}}
		})
	})
	// With no upcasters registered, the wrapper is transparent.
	t.Run("upcasting", func(t *testing.T) {
		cqrstest.TestEventStore(t, cqrstest.Features{}, func(t *testing.T) cqrstest.Backend {
			s, err := cqrs.NewUpcastingStore(cqrs.NewMemoryStore(), cqrs.NewUpcasters())
			require.NoError(t, err)
			return cqrstest.Backend{Store: s}
		})
	})
	t.Run("redis", func(t *testing.T) {
		for _, k := range redistest.Kinds() {
			t.Run(string(k), func(t *testing.T) {
				cqrstest.TestEventStore(t, cqrstest.Features{}, func(t *testing.T) cqrstest.Backend {
					return redisBackend(t, redistest.New(t, k))
				})
			})
		}
	})
}

// TestSnapshotStoreConformance runs the cqrstest snapshot suite against
// the memory and Redis snapshot stores.
func TestSnapshotStoreConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		cqrstest.TestSnapshotStore(t, func(t *testing.T) cqrs.SnapshotStore { return cqrs.NewMemorySnapshotStore() })
	})
	for _, k := range redistest.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			cqrstest.TestSnapshotStore(t, func(t *testing.T) cqrs.SnapshotStore {
				tg := redistest.New(t, k)
				s, err := cqrs.NewRedisSnapshotStore(tg.Client, cqrs.WithPrefix(tg.Prefix))
				require.NoError(t, err)
				return s
			})
		})
	}
}

// TestCheckpointStoreConformance runs the cqrstest checkpoint suite
// against the memory and Redis checkpoint stores.
func TestCheckpointStoreConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		cqrstest.TestCheckpointStore(t, func(t *testing.T) cqrs.CheckpointStore { return cqrs.NewMemoryCheckpointStore() })
	})
	for _, k := range redistest.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			cqrstest.TestCheckpointStore(t, func(t *testing.T) cqrs.CheckpointStore {
				tg := redistest.New(t, k)
				s, err := cqrs.NewRedisCheckpointStore(tg.Client, cqrs.WithPrefix(tg.Prefix))
				require.NoError(t, err)
				return s
			})
		})
	}
}

// redisBackend is a Redis store on tg; each further handle has a client of
// its own, as another process would.
func redisBackend(t *testing.T, tg *redistest.Target) cqrstest.Backend {
	open := func(first bool) cqrs.EventStore {
		c := tg.Client
		if !first {
			c, _ = tg.NewClient()
		}
		s, err := cqrs.NewRedisStore(c, cqrs.WithPrefix(tg.Prefix), cqrs.WithBlock(20*time.Millisecond))
		require.NoError(t, err)
		return s
	}
	return cqrstest.Backend{Store: open(true), NewHandle: func() cqrs.EventStore { return open(false) }}
}
