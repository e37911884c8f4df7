package cache

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// gateHook counts the commands naming a key that contains marker, and
// holds each until the gate opens.
type gateHook struct {
	marker    string
	calls     atomic.Int64
	cancelled atomic.Int64 // calls whose ctx ended while held
	gate      chan struct{}
}

func (h *gateHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *gateHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *gateHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, h.marker) {
				h.calls.Add(1)
				select {
				case <-h.gate:
				case <-ctx.Done():
					h.cancelled.Add(1)
					return ctx.Err()
				}
				break
			}
		}
		return next(ctx, cmd)
	}
}

// readWaiters is how many readers wait for the Redis read of key in flight.
func readWaiters[V any](t *Tiered[V], key string) int {
	return t.reads.group.Waiters(readKey{key, t.stripe(key).Load()})
}

// TestTieredCollapsesRemoteReads: N concurrent Gets of a key only Redis
// holds send one read to Redis, and all get the value; a reader whose ctx
// ends leaves at once while the read goes on for the others.
func TestTieredCollapsesRemoteReads(t *testing.T) {
	const n = 200
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		prefix := uniquePrefix(tg)
		writer := mustTiered(t, tg, tg.Client, nil, prefix)
		require.NoError(t, writer.Set(bg, "hot", "v", time.Hour))
		c, _ := tg.NewClient()
		reader := mustTiered(t, tg, c, nil, prefix)
		require.Eventually(t, reader.live.Load, waitFor, tick, "subscribed")
		// Load the script on hot's node (a Cluster has one per node).
		_, _, err := reader.Get(bg, "hot")
		require.NoError(t, err)
		reader.dropLocal([]string{"hot"})
		h := &gateHook{marker: "hot", gate: make(chan struct{})}
		c.AddHook(h)

		var wg sync.WaitGroup
		var got atomic.Int64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, ok, err := reader.Get(bg, "hot")
				if assert.NoError(t, err) && assert.True(t, ok) && assert.Equal(t, "v", v) {
					got.Add(1)
				}
			}()
		}
		require.Eventually(t, func() bool { return readWaiters(reader, "hot") == n }, waitFor, tick, "all readers wait on one read")
		// One more reader gives up: it leaves, the read goes on.
		ctx, cancel := context.WithCancel(bg)
		left := make(chan error, 1)
		go func() { _, _, err := reader.Get(ctx, "hot"); left <- err }()
		require.Eventually(t, func() bool { return readWaiters(reader, "hot") == n+1 }, waitFor, tick)
		cancel()
		require.ErrorIs(t, <-left, context.Canceled)
		assert.Equal(t, n, readWaiters(reader, "hot"))
		close(h.gate)
		wg.Wait()
		assert.Equal(t, int64(n), got.Load())
		assert.Equal(t, int64(1), h.calls.Load(), "one Redis read")
		st := reader.Stats()
		assert.Equal(t, uint64(n-1+1), st.Shared, "all but the first joined it (the leaver too)")
		assert.True(t, localHas(reader, "hot"), "kept locally")
	})
}

// TestTieredReadAfterInvalidationStartsNewRead: a reader never joins a
// read that began before an invalidation of the key reached this Tiered,
// so it reads the new value; the old read's value is not kept locally.
func TestTieredReadAfterInvalidationStartsNewRead(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		prefix := uniquePrefix(tg)
		writer := mustTiered(t, tg, tg.Client, nil, prefix)
		c, _ := tg.NewClient()
		tc := mustTiered(t, tg, c, nil, prefix)
		require.Eventually(t, tc.live.Load, waitFor, tick, "subscribed")
		setAndSync(t, writer, tc, "warm", "w", time.Hour) // loads the scripts, proves the subscription
		require.NoError(t, writer.Set(bg, "hot", "old", time.Hour))
		h := &gateHook{marker: "hot", gate: make(chan struct{})}
		c.AddHook(h)

		first := make(chan string, 1)
		go func() { v, _, _ := tc.Get(bg, "hot"); first <- v }()
		require.Eventually(t, func() bool { return h.calls.Load() == 1 }, waitFor, tick, "first read held")
		setAndSync(t, writer, tc, "hot", "new", time.Hour)
		second := make(chan string, 1)
		go func() { v, _, _ := tc.Get(bg, "hot"); second <- v }()
		require.Eventually(t, func() bool { return h.calls.Load() == 2 }, waitFor, tick, "a read of its own")
		close(h.gate)
		<-first
		assert.Equal(t, "new", <-second)
		v, ok := get[string](t, tc, "hot")
		require.True(t, ok)
		assert.Equal(t, "new", v)
	})
}

// TestTieredReadCancelledWhenAllLeave: when every reader of a shared read
// has left, the read is cancelled rather than left running.
func TestTieredReadCancelledWhenAllLeave(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		tc := mustTiered(t, tg, c, nil, uniquePrefix(tg))
		h := &gateHook{marker: "hot", gate: make(chan struct{})}
		c.AddHook(h)
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 2)
		for range 2 {
			go func() { _, _, err := tc.Get(ctx, "hot"); done <- err }()
		}
		require.Eventually(t, func() bool { return readWaiters(tc, "hot") == 2 && h.calls.Load() == 1 }, waitFor, tick, "both wait on a read held in Redis")
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.ErrorIs(t, <-done, context.Canceled)
		require.Eventually(t, func() bool { return h.cancelled.Load() == 1 }, waitFor, tick, "read cancelled")
		assert.Equal(t, int64(1), h.calls.Load())
		assert.Equal(t, 0, readWaiters(tc, "hot"))
	})
}
