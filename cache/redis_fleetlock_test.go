package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// instance is one "process": its own Redis client, cache and Aside.
type instance struct {
	client redisClient
	faults *redistest.Faults
	aside  *Aside[string]
}

func newInstances(t *testing.T, tg *redistest.Target, n int, load Loader[string], lockWait time.Duration, opts ...AsideOption) []*instance {
	t.Helper()
	prefix := uniquePrefix(tg)
	out := make([]*instance, n)
	for i := range out {
		client, faults := tg.NewClient()
		// Generous timeouts: a 2-core machine running the race detector and
		// miniredis is slow, and a timed out lock call means a second load.
		r, err := NewRedis[string](client, WithPrefix(prefix), WithTimeout(5*time.Second))
		require.NoError(t, err)
		a, err := NewAside(r, load, append([]AsideOption{WithFleetLock(client, WithPrefix(prefix+"lock:"), WithTimeout(5*time.Second), WithLockWait(lockWait)),
			WithOnError(func(key string, err error) { t.Logf("%s: %v", key, err) })}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		out[i] = &instance{client: client, faults: faults, aside: a}
	}
	return out
}

// TestFleetStampedeOneLoad: 4 processes × 50 goroutines miss one key
// together; the fleet lock lets one loader call through.
func TestFleetStampedeOneLoad(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		src := newSource()
		src.put("hot", "value")
		src.gate = make(chan struct{})
		insts := newInstances(t, tg, 4, src.load, 10*time.Second)
		const perInstance = 50
		var wg sync.WaitGroup
		var failed atomic.Int64
		for _, in := range insts {
			for range perInstance {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if v, err := in.aside.Get(bg, "hot"); err != nil || v != "value" {
						failed.Add(1)
					}
				}()
			}
		}
		// One process loads; the three others wait on its lock; within each
		// process the other goroutines share that one load or wait.
		require.Eventually(t, func() bool {
			waits, shared := uint64(0), uint64(0)
			for _, in := range insts {
				st := in.aside.Stats()
				waits += st.FleetWaits
				shared += st.Shared
			}
			return src.calls.Load() == 1 && waits == 3 && shared == 4*(perInstance-1)
		}, waitFor, tick)
		close(src.gate)
		wg.Wait()
		assert.Zero(t, failed.Load())
		assert.Equal(t, int64(1), src.calls.Load(), "one loader call across the fleet")
		var loads uint64
		for _, in := range insts {
			loads += in.aside.Stats().Loads
		}
		assert.Equal(t, uint64(1), loads)
		// The lock is gone: nothing is left behind but the value.
		n, err := tg.Client.Exists(bg, insts[0].aside.fleet.lockKey("hot")).Result()
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestFleetWithoutLockLoadsPerProcess is the control: without the fleet
// lock each process loads once.
func TestFleetWithoutLockLoadsPerProcess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		src := newSource()
		src.put("hot", "value")
		src.gate = make(chan struct{})
		prefix := uniquePrefix(tg)
		var asides []*Aside[string]
		for range 4 {
			client, _ := tg.NewClient()
			r, err := NewRedis[string](client, WithPrefix(prefix), WithTimeout(5*time.Second))
			require.NoError(t, err)
			asides = append(asides, newAside(t, r, src.load))
		}
		var wg sync.WaitGroup
		for _, a := range asides {
			for range 50 {
				wg.Add(1)
				go func() { defer wg.Done(); _, _ = a.Get(bg, "hot") }()
			}
		}
		require.Eventually(t, func() bool {
			shared := uint64(0)
			for _, a := range asides {
				shared += a.Stats().Shared
			}
			return src.calls.Load() == 4 && shared == 4*49
		}, waitFor, tick)
		close(src.gate)
		wg.Wait()
		assert.Equal(t, int64(4), src.calls.Load())
	})
}

// TestFleetLockHolderGone: a lock whose holder died is waited for only
// WithLockWait, then the waiter loads itself.
func TestFleetLockHolderGone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		src := newSource()
		src.put("k", "v")
		var got events
		in := newInstances(t, tg, 1, src.load, 50*time.Millisecond, WithObserver(got.observe))[0]
		// A crashed process's lock, with a long PX.
		require.NoError(t, tg.Client.Set(bg, in.aside.fleet.lockKey("k"), "dead-token", time.Minute).Err())
		start := time.Now()
		v, err := in.aside.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "waited for the lock")
		assert.Less(t, time.Since(start), time.Second, "but only about WithLockWait")
		assert.Equal(t, uint64(1), in.aside.Stats().FleetWaits)
		waits := got.of(EventFleetWait)
		require.Len(t, waits, 1)
		assert.Equal(t, "k", waits[0].Key)
		assert.GreaterOrEqual(t, waits[0].Duration, 50*time.Millisecond, "the event says how long")
		assert.Equal(t, int64(1), src.calls.Load())
		// The dead lock was not ours to release.
		tok, _ := tg.Client.Get(bg, in.aside.fleet.lockKey("k")).Result()
		assert.Equal(t, "dead-token", tok)
	})
}

// TestFleetHolderLoadFails: when the holder's load fails, waiters are told
// (the release message) and take the lock and load themselves rather than
// wait out WithLockWait.
func TestFleetHolderLoadFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		var calls atomic.Int64
		gate := make(chan struct{})
		load := func(ctx context.Context, key string) (string, error) {
			if calls.Add(1) == 1 {
				<-gate
				return "", errors.New("db hiccup")
			}
			return "v", nil
		}
		insts := newInstances(t, tg, 2, load, 10*time.Second)
		first := make(chan error, 1)
		go func() { _, err := insts[0].aside.Get(bg, "k"); first <- err }()
		require.Eventually(t, func() bool { return calls.Load() == 1 }, waitFor, tick)
		second := make(chan string, 1)
		start := time.Now()
		go func() { v, _ := insts[1].aside.Get(bg, "k"); second <- v }()
		require.Eventually(t, func() bool { return insts[1].aside.Stats().FleetWaits == 1 }, waitFor, tick)
		close(gate)
		assert.Error(t, <-first)
		assert.Equal(t, "v", <-second)
		assert.Less(t, time.Since(start), 5*time.Second, "did not wait out the 10s lock wait")
		assert.Equal(t, int64(2), calls.Load())
	})
}

// TestFleetLockRedisDown: a fleet lock that cannot be reached costs the
// lock, not the read.
func TestFleetLockRedisDown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		src := newSource()
		src.put("k", "v")
		var reported atomic.Int64
		var got events
		in := newInstances(t, tg, 1, src.load, DefaultLockWait,
			WithOnError(func(string, error) { reported.Add(1) }), WithObserver(got.observe))[0]
		in.faults.Cut()
		v, err := in.aside.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		assert.GreaterOrEqual(t, reported.Load(), int64(2), "the cache read and the lock, at least")
		assert.NotEmpty(t, got.of(EventCacheError), "the cache read")
		assert.NotEmpty(t, got.of(EventLockError), "the lock")
	})
}

func TestFleetEarlyRefreshUsesTheLock(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini == nil {
			t.Skip("needs miniredis's clock")
		}
		var calls atomic.Int64
		load := func(ctx context.Context, key string) (string, error) {
			return fmt.Sprint("v", calls.Add(1)), nil
		}
		insts := newInstances(t, tg, 2, load, DefaultLockWait, WithTTL(10*time.Second), WithJitter(0))
		for _, in := range insts {
			in.aside.rand = func() float64 { return 1 - 1e-300 } // −ln(1−U) huge: always due
		}
		v, err := insts[0].aside.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		// Another process holds the lock (refreshing): our refresh skips.
		require.NoError(t, tg.Client.Set(bg, insts[1].aside.fleet.lockKey("k"), "other", time.Minute).Err())
		v, err = insts[1].aside.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		a := insts[1].aside
		require.Eventually(t, func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.Stats().Refreshes == 1 && len(a.flights) == 0
		}, waitFor, tick)
		assert.Equal(t, uint64(1), a.Stats().FleetWaits)
		assert.Equal(t, int64(1), calls.Load(), "the refresh left the load to the lock holder")

		// Once the lock is free, a refresh does load.
		require.NoError(t, tg.Client.Del(bg, a.fleet.lockKey("k")).Err())
		_, err = a.Get(bg, "k")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return calls.Load() == 2 }, waitFor, tick)
		require.Eventually(t, func() bool {
			v, _, _ := a.entries.Get(bg, "k")
			return v == "v2"
		}, waitFor, tick)
	})
}
