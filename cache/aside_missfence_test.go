package cache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// loggedRedis returns a Redis cache of a client of its own that logs its
// commands, the fenced store's script loaded on every node (so that a
// store is one EVALSHA, never EVALSHA then EVAL).
func loggedRedis(t *testing.T, tg *redistest.Target, opts ...RedisOption) (*Redis[string], *redistest.CommandLog, redis.UniversalClient) {
	t.Helper()
	c, _ := tg.NewClient()
	require.NoError(t, setFencedScript.Load(bg, c).Err())
	log := &redistest.CommandLog{}
	c.AddHook(log)
	r, err := NewRedis[string](c, append([]RedisOption{WithPrefix(uniquePrefix(tg)), WithTimeout(time.Second)}, opts...)...)
	require.NoError(t, err)
	return r, log, c
}

// TestAsideColdReadIsThreeRoundTrips: on Redis a cold Aside.Get is the
// caller's GET, the loader and the fenced store, in that order: the load
// stores with the fence of the caller's miss instead of reading the key
// again. So is one after an Invalidate (the fence is the tombstone's, and
// the store replaces it), and one of a key that does not exist.
func TestAsideColdReadIsThreeRoundTrips(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r, log, _ := loggedRedis(t, tg)
		src := newSource()
		var order []string
		a := newAside(t, r, func(ctx context.Context, key string) (string, error) {
			order = append(order, log.Take()...)
			order = append(order, "loader")
			return src.load(ctx, key)
		})
		cold := func(key, want string) {
			t.Helper()
			log.Take()
			order = nil
			v, err := a.Get(bg, key)
			if want == "" {
				require.ErrorIs(t, err, ErrNotFound)
			} else {
				require.NoError(t, err)
				assert.Equal(t, want, v)
			}
			order = append(order, log.Take()...)
			assert.Equal(t, []string{"get", "loader", "evalsha"}, order, key)
		}
		keys := []string{"a", "b", "c", "d", "e", "f"} // several Cluster slots
		for _, k := range keys {
			src.put(k, "v-"+k)
			cold(k, "v-"+k)
			v, err := a.Get(bg, k)
			require.NoError(t, err)
			assert.Equal(t, "v-"+k, v)
			assert.Equal(t, []string{"get"}, log.Take(), "%s: stored, then a hit", k)
		}
		cold("absent", "")

		src.put("a", "v2")
		require.NoError(t, a.Invalidate(bg, "a"))
		cold("a", "v2")
		got, ok, err := r.Get(bg, "a")
		require.NoError(t, err)
		assert.True(t, ok, "the load replaced the tombstone")
		assert.Equal(t, "v2", got)
		assert.Equal(t, int64(len(keys)+2), src.calls.Load())
		assert.Zero(t, a.Stats().Fenced)
	})
}

// TestAsideColdReadFallsBackToReadingTheFence: where the caller's read
// gives no fence, the load reads the key again before loading, as it
// always did: a value that does not decode (the read failed), and a
// Tiered cache (its read is the local tier's).
func TestAsideColdReadFallsBackToReadingTheFence(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		t.Run("corrupt", func(t *testing.T) {
			r, log, c := loggedRedis(t, tg)
			src := newSource()
			src.put("k", "v")
			a := newAside(t, r, src.load)
			require.NoError(t, c.Set(bg, r.redisKey("k"), "not ours", time.Minute).Err())
			log.Take()
			v, err := a.Get(bg, "k")
			require.NoError(t, err)
			assert.Equal(t, "v", v)
			assert.Equal(t, []string{"get", "get", "evalsha"}, log.Take())
			got, ok, err := r.Get(bg, "k")
			require.NoError(t, err)
			assert.True(t, ok, "the load replaced the value that did not decode")
			assert.Equal(t, "v", got)
			assert.Equal(t, uint64(1), a.Stats().CacheErrors)
		})
		t.Run("tiered", func(t *testing.T) {
			c, _ := tg.NewClient()
			log := &redistest.CommandLog{}
			c.AddHook(log)
			tc := mustTiered(t, tg, c, nil, uniquePrefix(tg))
			src := newSource()
			src.put("k", "v")
			a := newAside(t, tc, src.load)
			_, err := a.Get(bg, "warm") // loads the script on warm's node
			require.ErrorIs(t, err, ErrNotFound)
			require.NoError(t, setFencedScript.Load(bg, c).Err())
			log.Take()
			v, err := a.Get(bg, "k")
			require.NoError(t, err)
			assert.Equal(t, "v", v)
			assert.Equal(t, map[string]int{"get": 2, "evalsha": 1}, log.Counts())
		})
	})
}

// replyHold holds, once Redis has answered it, the first GET sent after
// arm, until release: a caller that has missed, stopped before it joins
// or starts a load. For a cache WithoutPipelining (each call is one
// command through the process hook).
type replyHold struct {
	armed   atomic.Bool
	held    chan struct{} // closed when the GET is held
	release chan struct{}
}

func newReplyHold(t *testing.T) *replyHold {
	h := &replyHold{held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { h.open() })
	return h
}

func (h *replyHold) open() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

func (h *replyHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *replyHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *replyHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "get" && h.armed.CompareAndSwap(true, false) {
			close(h.held)
			<-h.release
		}
		return err
	}
}

// heldMiss starts a.Get(key) and returns once its GET has missed and is
// held before the caller joins; the result comes on the channel once h
// opens.
func heldMiss(t *testing.T, a *Aside[string], h *replyHold, key string) <-chan string {
	t.Helper()
	h.armed.Store(true)
	got := make(chan string, 1)
	go func() {
		v, err := a.Get(bg, key)
		assert.NoError(t, err)
		got <- v
	}()
	select {
	case <-h.held:
	case <-time.After(waitFor):
		t.Fatal("the GET was not held")
	}
	return got
}

// heldRedis is a Redis cache whose client holds GET replies with a
// replyHold, with a bound long enough for the holds of a loaded machine.
func heldRedis(t *testing.T, tg *redistest.Target, prefix string) (*Redis[string], *replyHold) {
	c, _ := tg.NewClient()
	h := newReplyHold(t)
	c.AddHook(h)
	r, err := NewRedis[string](c, WithPrefix(prefix), WithTimeout(30*time.Second), WithoutPipelining())
	require.NoError(t, err)
	return r, h
}

// TestAsideMissAfterLoadEndedReadsAgain: a caller that missed while
// another load of the key ran here, and joins after that load ended, does
// not load again: its load reads the key once more and answers from it,
// as before the fence of a miss was reused. With the fence reused there,
// the loader runs twice and the second store is refused.
func TestAsideMissAfterLoadEndedReadsAgain(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r, h := heldRedis(t, tg, uniquePrefix(tg))
		src := newSource()
		src.put("k", "v")
		load, entered, release := heldLoader(src.load)
		a := newAside(t, r, load)

		first := make(chan string, 1)
		go func() { v, _ := a.Get(bg, "k"); first <- v }()
		<-entered // the first load runs
		second := heldMiss(t, a, h, "k")
		close(release)
		assert.Equal(t, "v", <-first, "the first load stored and answered")
		h.open()
		assert.Equal(t, "v", <-second)
		assert.Equal(t, int64(1), src.calls.Load(), "the second caller found the stored value")
		assert.Zero(t, a.Stats().Fenced)
		assert.Equal(t, uint64(0), a.Stats().Loads-1)
	})
}

// TestAsideMissFenceAfterInvalidate: the fence a caller's miss read is
// never one an invalidation made stale that its store then gets past.
// When the key was invalidated here between the miss and the load, the
// load reads the key again (its store replaces the tombstone, as before);
// when another process invalidated it, or stored a value, the caller's
// fence is reused and its store refused: the tombstone, or the other
// value, stays.
func TestAsideMissFenceAfterInvalidate(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		t.Run("here", func(t *testing.T) {
			r, h := heldRedis(t, tg, uniquePrefix(tg))
			src := newSource()
			src.put("k", "old")
			a := newAside(t, r, src.load)
			got := heldMiss(t, a, h, "k")
			src.put("k", "new")
			require.NoError(t, a.Invalidate(bg, "k"))
			h.open()
			assert.Equal(t, "new", <-got)
			v, ok, err := r.Get(bg, "k")
			require.NoError(t, err)
			assert.True(t, ok, "stored over the tombstone it read")
			assert.Equal(t, "new", v)
			assert.Zero(t, a.Stats().Fenced)
		})
		for _, elsewhere := range []string{"invalidate", "store"} {
			t.Run(elsewhere, func(t *testing.T) {
				prefix := uniquePrefix(tg)
				r, h := heldRedis(t, tg, prefix)
				other := mustRedis[string](t, tg, WithPrefix(prefix))
				src := newSource()
				src.put("k", "old")
				a := newAside(t, r, src.load)
				b := newAside(t, other, src.load)
				got := heldMiss(t, a, h, "k")
				src.put("k", "new")
				if elsewhere == "invalidate" {
					require.NoError(t, b.Invalidate(bg, "k"))
				} else {
					require.NoError(t, other.Set(bg, "k", "other's", time.Minute))
				}
				h.open()
				assert.Equal(t, "new", <-got, "the caller gets what it loaded")
				assert.Equal(t, uint64(1), a.Stats().Fenced, "its store was refused")
				v, ok, err := r.Get(bg, "k")
				require.NoError(t, err)
				if elsewhere == "invalidate" {
					assert.False(t, ok, "the tombstone won")
				} else {
					assert.True(t, ok)
					assert.Equal(t, "other's", v, "the other value stayed")
				}
			})
		}
	})
}
