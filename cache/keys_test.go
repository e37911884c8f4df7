package cache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestCacheKeysNeverReadAsLocks is issue 12's defect 7: under the default
// prefixes ("cache:" and then "cache:lock:") the cache entry of key
// "lock:X" was stored where the fleet lock of X lives, so one read of
// "lock:victim" made every miss of "victim" wait out the lock wait for as
// long as the entry lived. Nor may a held lock read as a cache entry. Both
// with the defaults and with a lock prefix that extends the cache's (as
// the example did), on every backend.
func TestCacheKeysNeverReadAsLocks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, prefixes := range map[string]struct {
			cache []RedisOption
			lock  []FleetLockOption
		}{
			"default prefixes":        {},
			"lock prefix under cache": {[]RedisOption{WithPrefix(tg.Prefix)}, []FleetLockOption{WithPrefix(tg.Prefix + "lock:")}},
		} {
			t.Run(name, func(t *testing.T) {
				victim := tg.Prefix + "victim" // unique to this run, even under the default prefixes
				gate := make(chan struct{})
				load := func(ctx context.Context, key string) (string, error) {
					if key == victim {
						select { // the victim's load holds its lock until released
						case <-gate:
						case <-ctx.Done():
						}
					}
					return "value of " + key, nil
				}
				// Generous bounds: this test is about names, and a loaded
				// 2-core machine can take longer than the default for a call.
				r, err := NewRedis[string](tg.Client, append([]RedisOption{WithTimeout(time.Second)}, prefixes.cache...)...)
				require.NoError(t, err)
				var cacheErrors []error
				a, err := NewAside(r, load, WithFleetLock(tg.Client,
					append([]FleetLockOption{WithLockWait(time.Second), WithTimeout(time.Second)}, prefixes.lock...)...),
					WithOnError(func(_ string, err error) { cacheErrors = append(cacheErrors, err) }))
				require.NoError(t, err)
				t.Cleanup(func() {
					_ = a.Close()
					_ = tg.Client.Del(bg, r.redisKey(victim), r.redisKey("lock:"+victim), a.fleet.lockKey(victim)).Err()
				})

				// Reading "lock:victim" caches it for the TTL (5 minutes).
				v, err := a.Get(bg, "lock:"+victim)
				require.NoError(t, err)
				assert.Equal(t, "value of lock:"+victim, v)

				// A miss of victim takes its lock at once and holds it
				// while it loads: no wait for a lock nobody holds.
				got := make(chan error, 1)
				start := time.Now()
				go func() { _, err := a.Get(bg, victim); got <- err }()
				require.Eventually(t, func() bool {
					n, err := tg.Client.Exists(bg, a.fleet.lockKey(victim)).Result()
					return err == nil && n == 1
				}, waitFor, tick, "the victim's load holds its lock")
				assert.Zero(t, a.Stats().FleetWaits, "no wait for a lock: the cache entry is not one")

				// Meanwhile the held lock does not read as the entry of
				// "lock:victim", which is still the cached value.
				v, err = a.Get(bg, "lock:"+victim)
				require.NoError(t, err)
				assert.Equal(t, "value of lock:"+victim, v)

				close(gate)
				require.NoError(t, <-got)
				assert.Less(t, time.Since(start), 500*time.Millisecond, "the 1s lock wait was not paid")
				assert.Empty(t, cacheErrors)
			})
		}
	})
}

// The layout in full: for tricky keys and prefixes that extend one
// another, no entry, lock or channel name equals another.
func TestNamespacesAreDisjoint(t *testing.T) {
	prefixes := []string{"cache:", "cache:lock:", "cache:{", "a", "a:v:", "cache:lock:l:"}
	keys := []string{"", "x", "lock:x", "l:x", "{}l:x", "{}v:x", "v:x", "{x}", "}{", "released", "{}released", "invalidate"}
	seen := map[string]string{}
	add := func(name, what string) {
		if prev, ok := seen[name]; ok {
			t.Errorf("%q is both %s and %s", name, prev, what)
		}
		seen[name] = what
	}
	for _, p := range prefixes {
		if checkPrefix(p) != nil {
			continue // refused: braces
		}
		r := &Redis[string]{prefix: p, entries: p + entryMarker}
		l := &fleetLock{prefix: p, locks: p + lockMarker, channel: p + releasedMarker}
		for _, k := range keys {
			add(r.redisKey(k), "entry "+p+" "+k)
			add(l.lockKey(k), "lock "+p+" "+k)
		}
		add(l.channel, "lock channel "+p)
		add(p+invalidateMarker, "tiered channel "+p)
	}
	assert.Len(t, seen, 5*(2*len(keys)+2), "every prefix without a brace was used")
}

// Prefixes and channel names with braces are refused: braces are where
// this package's namespaces begin.
func TestBracesRefused(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	for _, p := range []string{"a{", "a}", "{x}:"} {
		_, err := NewRedis[string](tg.Client, WithPrefix(p))
		assert.ErrorIs(t, err, ErrInvalidConfig, p)
		_, err = NewAside(mustLRU[string](t, 10), newSource().load, WithFleetLock(tg.Client, WithPrefix(p)))
		assert.ErrorIs(t, err, ErrInvalidConfig, p)
		_, err = NewTiered(mustLRU[string](t, 10), mustRedis[string](t, tg), WithChannel("ch"+p))
		assert.ErrorIs(t, err, ErrInvalidConfig, p)
	}
}
