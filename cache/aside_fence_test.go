package cache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// heldLoader wraps load so that each call, once it has read the source,
// says so on entered and waits for release (or its ctx) before returning
// what it read: a load of the old value held in flight.
func heldLoader(load Loader[string]) (held Loader[string], entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 1), make(chan struct{})
	held = func(ctx context.Context, key string) (string, error) {
		v, err := load(ctx, key)
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return v, err
	}
	return held, entered, release
}

// assertInvalidateFencesOtherLoad: B (another process, or another Aside
// over the same LRU) loads the old value and is held there; A writes the
// source and invalidates; B's load ends. B's callers get the old value
// (they asked before the write) but it is not stored: from then on,
// every read through either instance, and of the caches themselves, is
// the new value or a miss. With the fence gone, B's store lands after
// A's invalidation and the old value is served until its TTL.
func assertInvalidateFencesOtherLoad(t *testing.T, ca, cb Cache[string]) {
	src := newSource()
	src.put("k", "old")
	loadB, entered, release := heldLoader(src.load)
	a := newAside(t, ca, src.load)
	b := newAside(t, cb, loadB)

	got := make(chan string, 1)
	go func() {
		v, err := b.Get(bg, "k")
		assert.NoError(t, err)
		got <- v
	}()
	<-entered // B has read "old" and holds it

	src.put("k", "new")
	require.NoError(t, a.Invalidate(bg, "k"))
	close(release)
	assert.Equal(t, "old", <-got, "B's caller asked before the write")
	assert.Equal(t, uint64(1), b.Stats().Fenced, "B's load was fenced off")

	for _, c := range []Cache[string]{ca, cb} {
		v, ok, err := c.Get(bg, "k")
		require.NoError(t, err)
		assert.False(t, ok && v == "old", "%T holds the old value after the invalidation", c)
	}
	for i, x := range []*Aside[string]{a, b, a, b} {
		v, err := x.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "new", v, "read %d", i)
	}
	assert.Equal(t, int64(2), src.calls.Load(), "the new value was loaded once, then cached")
}

func TestAsideInvalidateFencesOtherInstances(t *testing.T) {
	t.Run("lru", func(t *testing.T) {
		// Two Asides over one LRU: the fence is the LRU's, not the Aside's.
		c := mustLRU[string](t, 100)
		assertInvalidateFencesOtherLoad(t, c, c)
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		t.Run("redis", func(t *testing.T) {
			prefix := uniquePrefix(tg)
			ca, _ := tg.NewClient()
			cb, _ := tg.NewClient()
			ra, err := NewRedis[string](ca, WithPrefix(prefix), WithTimeout(time.Second))
			require.NoError(t, err)
			rb, err := NewRedis[string](cb, WithPrefix(prefix), WithTimeout(time.Second))
			require.NoError(t, err)
			assertInvalidateFencesOtherLoad(t, ra, rb)
		})
		t.Run("tiered", func(t *testing.T) {
			ta, tb, _, _, _ := twoTiered(t, tg)
			assertInvalidateFencesOtherLoad(t, ta, tb)
		})
	})
}

// TestAsideInvalidateTombstone: on Redis, Invalidate leaves a tombstone
// that every read takes for a miss, that expires after the fence's hold,
// and that a load after the Invalidate replaces.
func TestAsideInvalidateTombstone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
		src := newSource()
		src.put("k", "v1")
		a := newAside(t, r, src.load, WithLoadTimeout(2*time.Second))
		v, err := a.Get(bg, "k")
		require.NoError(t, err)
		require.Equal(t, "v1", v)

		src.put("k", "v2")
		require.NoError(t, a.Invalidate(bg, "k", "never-cached"))
		for _, key := range []string{"k", "never-cached"} {
			_, ok, err := r.Get(bg, key)
			require.NoError(t, err)
			assert.False(t, ok, "a tombstone is a miss to Get")
			_, ok, err = r.GetEntry(bg, key)
			require.NoError(t, err)
			assert.False(t, ok, "a tombstone is a miss to GetEntry")
			ttl, err := r.client.PTTL(bg, r.redisKey(key)).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, time.Duration(0), "a tombstone expires")
			assert.LessOrEqual(t, ttl, fenceHold(2*time.Second, 0), "after the fence's hold")
		}
		v, err = a.Get(bg, "k")
		require.NoError(t, err)
		require.Equal(t, "v2", v)
		got, ok, err := r.Get(bg, "k")
		require.NoError(t, err)
		assert.True(t, ok, "the load after the Invalidate replaced the tombstone")
		assert.Equal(t, "v2", got)
		assert.Zero(t, a.Stats().Fenced)
	})
}

// TestAsideFencedStoreRefusedAfterForeignWrite: a fenced store fails when
// the key changed in any way since its fence was read (another load's
// value, or a tombstone), and succeeds when it did not.
func TestAsideFencedStoreRefusedAfterForeignWrite(t *testing.T) {
	check := func(t *testing.T, c fencer[string], other Cache[string]) {
		_, ok, f, err := c.readFence(bg, "k")
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, c.invalidate(bg, []string{"k"}, time.Minute))
		stored, err := c.setFenced(bg, "k", Entry[string]{Value: "stale", TTL: time.Minute}, f)
		require.NoError(t, err)
		assert.False(t, stored, "fenced off by the invalidation")

		_, _, f, err = c.readFence(bg, "k")
		require.NoError(t, err)
		stored, err = c.setFenced(bg, "k", Entry[string]{Value: "fresh", TTL: time.Minute}, f)
		require.NoError(t, err)
		assert.True(t, stored, "nothing changed since the fence was read")
		v, ok, err := other.Get(bg, "k")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "fresh", v)

		// A refresh's fence is the value it found: a newer value voids it.
		e, ok, f, err := c.readFence(bg, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "fresh", e.Value)
		require.NoError(t, c.invalidate(bg, []string{"k"}, time.Minute))
		stored, err = c.setFenced(bg, "k", Entry[string]{Value: "stale", TTL: time.Minute}, f)
		require.NoError(t, err)
		assert.False(t, stored)
		// (A Tiered's other instance drops its local copy on the message.)
		require.Eventually(t, func() bool { _, ok, err := other.Get(bg, "k"); return err == nil && !ok }, waitFor, tick)

		_, err = c.setFenced(bg, "k", Entry[string]{Value: "x", TTL: -time.Second}, f)
		require.ErrorIs(t, err, ErrInvalidRequest)
	}
	t.Run("lru", func(t *testing.T) {
		c := mustLRU[string](t, 100)
		check(t, c, c)
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		t.Run("redis", func(t *testing.T) {
			r := mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
			check(t, r, r)
		})
		t.Run("tiered", func(t *testing.T) {
			ta, tb, _, _, _ := twoTiered(t, tg)
			check(t, ta, tb)
		})
	})
}

// TestZeroFenceStoresOnlyWhereNothingIs: a load that could not read its
// fence (Redis did not answer) stores only where the key holds neither a
// value nor a tombstone; on an LRU, whose reads cannot fail, not at all.
func TestZeroFenceStoresOnlyWhereNothingIs(t *testing.T) {
	e := Entry[string]{Value: "loaded", TTL: time.Minute}
	lru := mustLRU[string](t, 10)
	stored, err := lru.setFenced(bg, "k", e, fence{})
	require.NoError(t, err)
	assert.False(t, stored)
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
		stored, err := r.setFenced(bg, "absent", e, fence{})
		require.NoError(t, err)
		assert.True(t, stored, "nothing there")
		require.NoError(t, r.Set(bg, "value", "newer", time.Minute))
		require.NoError(t, r.invalidate(bg, []string{"tombstone"}, time.Minute))
		for _, key := range []string{"value", "tombstone"} {
			stored, err := r.setFenced(bg, key, e, fence{})
			require.NoError(t, err)
			assert.False(t, stored, key)
		}
		v, _, _ := r.Get(bg, "value")
		assert.Equal(t, "newer", v)
	})
}
