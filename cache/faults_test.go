package cache

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// The fault suite's bounds: every Redis call must return within
// faultTimeout plus redistest.Slack, and a read waiting for another
// process's fleet lock within faultLockWait plus redistest.Slack, each
// plus the lateness the machine's load explains (see within).
const (
	faultTimeout  = 100 * time.Millisecond
	faultLockWait = 300 * time.Millisecond
)

// shortHealth makes subscriptions that stop answering noticed within
// about 100ms for the rest of the test.
func shortHealth(t *testing.T) {
	oldTiered, oldFleet := tieredHealthInterval, fleetHealthInterval
	tieredHealthInterval, fleetHealthInterval = 50*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { tieredHealthInterval, fleetHealthInterval = oldTiered, oldFleet })
}

// TestFaults runs the package's Redis types on a private redis-server
// through each fault, on both client kinds, and asserts that every call
// returns within its bound (the Redis timeout; for a read waiting on
// another process's fleet lock, the lock wait) plus 50ms and the lateness
// the machine's load explains (within); that Aside.Get
// never fails a read, serving from the loader while Redis cannot; that a
// Tiered flushes its local tier when it loses its subscription and
// resumes invalidations after; and that all of it recovers by itself.
func TestFaults(t *testing.T) {
	shortHealth(t)
	const limit = faultTimeout
	for _, fault := range redistest.ServerFaults(600 * time.Millisecond) {
		t.Run(fault.Name, func(t *testing.T) {
			s := fault.Start(t)
			for kind, opts := range redistest.ClientKinds() {
				t.Run(kind, func(t *testing.T) {
					prefix := "faults:" + kind + ":"
					newRedis := func() *Redis[string] {
						c, _ := s.Client(opts...)
						r, err := NewRedis[string](c, WithPrefix(prefix), WithTimeout(faultTimeout))
						require.NoError(t, err)
						return r
					}
					var loads atomic.Int64
					load := func(_ context.Context, key string) (string, error) {
						loads.Add(1)
						return "v(" + key + ")", nil
					}
					r := newRedis()
					// Two Asides on the one cache: one with a fleet lock,
					// whose reads may pay a bound for the lock too.
					plain := newAside(t, r, load)
					a := newAside(t, r, load, WithFleetLock(r.client, WithTimeout(faultTimeout), WithLockWait(faultLockWait)))
					aGet := func(key string) {
						t.Helper()
						for _, c := range []struct {
							a     *Aside[string]
							limit time.Duration
						}{{plain, limit}, {a, 2 * faultTimeout}} {
							var v string
							var err error
							within(t, c.limit, func() { v, err = c.a.Get(bg, key) })
							require.NoError(t, err, key)
							require.Equal(t, "v("+key+")", v)
						}
					}
					newTiered := func() *Tiered[string] {
						tc, err := NewTiered(mustLRU[string](t, 100), newRedis())
						require.NoError(t, err)
						t.Cleanup(func() { _ = tc.Close() })
						require.Eventually(t, tc.live.Load, waitFor, tick, "subscribed")
						return tc
					}
					writer, reader := newTiered(), newTiered()

					// Before: a cached value, and a local copy on the reader.
					aGet("cached")
					healthySet(t, writer, "t", "t1")
					require.Eventually(t, func() bool { return fill(reader, "t") }, waitFor, tick)

					// A read waiting on another process's lock when the fault
					// starts. On a starved machine the read's own calls to the
					// healthy server may time out first, and then it loads
					// without waiting (counting a cache error): try another key.
					type waitResult struct {
						v   string
						err error
						end time.Time
					}
					waited := make(chan waitResult, 1)
					var held string
					setupEnd := time.Now().Add(waitFor)
					for i := 0; held == ""; i++ {
						key := "held" + strconv.Itoa(i)
						require.NoError(t, r.client.Set(bg, a.fleet.lockKey(key), "another process", time.Minute).Err())
						waits, errs := a.Stats().FleetWaits, a.Stats().CacheErrors
						go func() {
							v, err := a.Get(bg, key)
							waited <- waitResult{v, err, time.Now()}
						}()
						require.Eventually(t, func() bool { return a.Stats().FleetWaits > waits || len(waited) > 0 }, waitFor, tick)
						if a.Stats().FleetWaits > waits {
							held = key
							break
						}
						<-waited
						require.Greater(t, a.Stats().CacheErrors, errs, "%s read without waiting for the lock, no call failed", key)
						require.True(t, time.Now().Before(setupEnd), "no read waited for the lock within %v", waitFor)
					}
					waitStart := time.Now() // at most a tick after the wait began
					waitProbe := redistest.StartWakeProbe()

					fault.Inject(s)
					ended := false
					endFault := func() {
						if !ended && fault.Heal != nil {
							fault.Heal(s)
						}
						ended = true
					}
					defer endFault() // also when an assertion fails: the next subtest shares s
					if fault.Effect.Unreachable() {
						// The reader cannot hear invalidations: it drops its
						// copies, and keeps none while it is down (a fill
						// kept means it is subscribed again: a pause or a
						// sleep may be over already).
						require.Eventually(t, func() bool { return !reader.live.Load() && !localHas(reader, "t") }, waitFor, tick,
							"local tier flushed while the subscription is down")
						within(t, limit, func() { _, _, _ = reader.Get(bg, "t") })
						assert.True(t, !localHas(reader, "t") || reader.live.Load(), "a fill kept while down")
					}
					// Aside never fails a read, and pays a bound per Redis call for it.
					aGet("cached")
					aGet("miss1")
					aGet("miss2")
					within(t, limit, func() { _ = plain.Invalidate(bg, "miss1") })
					// The waiting read waited no longer than the lock wait.
					w := <-waited
					require.NoError(t, w.err)
					require.Equal(t, "v("+held+")", w.v)
					allowance, stalled, wake := loadAllowance(waitProbe, waitStart, w.end)
					require.LessOrEqual(t, w.end.Sub(waitStart), faultLockWait+redistest.Slack+allowance,
						"lock wait: lateness %v (stalled %v, worst wake-up delay %v)", allowance, stalled, wake)
					// Every Redis call is bounded.
					within(t, limit, func() { _, _, _ = r.Get(bg, "cached") })
					within(t, limit, func() { _, _, _ = r.GetEntry(bg, "cached") })
					within(t, limit, func() { _ = r.Set(bg, "x", "x", time.Hour) })
					within(t, limit, func() { _ = r.Delete(bg, "x") })
					within(t, limit, func() { _, _, _ = reader.Get(bg, "miss1") })
					within(t, limit, func() { _ = writer.Set(bg, "y", "y", time.Hour) })
					within(t, limit, func() { _ = writer.Delete(bg, "y") })
					endFault()

					// After: everything recovers by itself, each call still bounded.
					deadline := time.Now().Add(waitFor)
					for {
						var err error
						within(t, limit, func() { _, _, err = r.Get(bg, "cached") })
						if err == nil {
							break
						}
						require.True(t, time.Now().Before(deadline), "Redis cache not back within %v: %v", waitFor, err)
						time.Sleep(10 * time.Millisecond)
					}
					// A load's store lands again: the plain Aside loads a key,
					// the other finds it. On the AOF server (appendfsync
					// always) a store may time out while a loaded machine's
					// disk is slow, and on a starved machine a read may: that
					// shows as a cache error, and then another key is tried.
					for i := 0; ; i++ {
						key := "after" + strconv.Itoa(i)
						cacheErrors := func() uint64 { return plain.Stats().CacheErrors + a.Stats().CacheErrors }
						before, errsBefore := loads.Load(), cacheErrors()
						aGet(key)
						aGet(key)
						if loads.Load() == before+1 {
							break
						}
						require.Greater(t, cacheErrors(), errsBefore, "%s loaded %d times, no cache call failed", key, loads.Load()-before)
						require.True(t, time.Now().Before(deadline), "no store landed within %v", waitFor)
					}
					require.Eventually(t, func() bool { return writer.live.Load() && reader.live.Load() }, waitFor, tick, "resubscribed")
					healthySet(t, writer, "t", "t2")
					require.Eventually(t, func() bool { return fill(reader, "t") }, waitFor, tick)
					healthySet(t, writer, "t", "t3")
					require.Eventually(t, func() bool { return !localHas(reader, "t") }, waitFor, tick, "invalidations resumed")
					var v string
					var ok bool
					healthy(t, "Get t", func() (err error) {
						v, ok, err = reader.Get(bg, "t")
						return err
					})
					require.True(t, ok)
					require.Equal(t, "t3", v)
				})
			}
		})
	}
}

// healthy runs call, a call to a server without a fault, until it
// succeeds. On a loaded machine such a call may still time out now and
// then (the AOF server fsyncs every write to a shared disk; a starved
// process misses a 100ms bound): a timeout is tried again, for up to
// waitFor; any other error fails the test.
func healthy(t *testing.T, what string, call func() error) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := call()
		if err == nil {
			return
		}
		require.True(t, timedOut(err), "%s: %v", what, err)
		require.True(t, time.Now().Before(deadline), "%s timed out for %v: %v", what, waitFor, err)
	}
}

// healthySet sets key to v through c for an hour, through healthy.
func healthySet(t *testing.T, c *Tiered[string], key, v string) {
	t.Helper()
	healthy(t, "Set "+key, func() error { return c.Set(bg, key, v, time.Hour) })
}

// fill reads key through c and reports whether c now holds it locally.
func fill(c *Tiered[string], key string) bool {
	_, _, _ = c.Get(bg, key)
	return localHas(c, key)
}
