package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor, tick = 5 * time.Second, time.Millisecond

// source is a fake database: a map, a call counter, and an optional gate
// that holds every load until opened.
type source struct {
	mu    sync.Mutex
	data  map[string]string
	calls atomic.Int64
	gate  chan struct{} // nil: loads do not wait
}

func newSource() *source { return &source{data: map[string]string{}} }

func (s *source) put(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[k] = v
}

func (s *source) load(ctx context.Context, key string) (string, error) {
	s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	if !ok {
		return "", fmt.Errorf("user %s: %w", key, ErrNotFound)
	}
	return v, nil
}

func newAside(t *testing.T, c Cache[string], load Loader[string], opts ...AsideOption) *Aside[string] {
	t.Helper()
	a, err := NewAside(c, load, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func TestAsideReadThrough(t *testing.T) {
	src := newSource()
	src.put("1", "ada")
	c := mustLRU[string](t, 100)
	a := newAside(t, c, src.load)
	for range 3 {
		v, err := a.Get(bg, "1")
		require.NoError(t, err)
		assert.Equal(t, "ada", v)
	}
	assert.Equal(t, int64(1), src.calls.Load())
	st := a.Stats()
	assert.Equal(t, uint64(2), st.Hits)
	assert.Equal(t, uint64(1), st.Misses)
	assert.Equal(t, uint64(1), st.Loads)
	assert.InDelta(t, 2.0/3, st.HitRate(), 1e-9)
}

func TestAsideStampedeOneLoad(t *testing.T) {
	src := newSource()
	src.put("hot", "value")
	src.gate = make(chan struct{})
	a := newAside(t, mustLRU[string](t, 100), src.load)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := a.Get(bg, "hot")
			if err == nil && v != "value" {
				err = fmt.Errorf("got %q", v)
			}
			errs <- err
		}()
	}
	// Every goroutine has missed and joined the one load before it ends.
	require.Eventually(t, func() bool { return a.Stats().Shared == n-1 }, waitFor, tick)
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), src.calls.Load())
	assert.Equal(t, uint64(1), a.Stats().Loads)
}

func TestAsideCancelledWaiterDoesNotCancelLoad(t *testing.T) {
	src := newSource()
	src.put("k", "v")
	src.gate = make(chan struct{})
	var loadErr atomic.Value
	load := func(ctx context.Context, key string) (string, error) {
		v, err := src.load(ctx, key)
		if err != nil {
			loadErr.Store(err)
		}
		return v, err
	}
	a := newAside(t, mustLRU[string](t, 100), load)
	ctx, cancel := context.WithCancel(bg)
	first := make(chan error, 1)
	go func() { _, err := a.Get(ctx, "k"); first <- err }()
	require.Eventually(t, func() bool { return src.calls.Load() == 1 }, waitFor, tick)
	second := make(chan string, 1)
	go func() { v, _ := a.Get(bg, "k"); second <- v }()
	require.Eventually(t, func() bool { return a.Stats().Shared == 1 }, waitFor, tick)

	cancel()
	assert.ErrorIs(t, <-first, context.Canceled, "the cancelled caller returns at once")
	close(src.gate)
	assert.Equal(t, "v", <-second, "the load went on for the other waiter")
	assert.Nil(t, loadErr.Load())
	assert.Equal(t, int64(1), src.calls.Load())
	v, err := a.Get(bg, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", v, "and it was cached")
	assert.Equal(t, int64(1), src.calls.Load())
}

func TestAsideLoaderPanicIsAnErrorToAllWaiters(t *testing.T) {
	gate := make(chan struct{})
	var calls atomic.Int64
	load := func(ctx context.Context, key string) (string, error) {
		if calls.Add(1) == 1 {
			<-gate
			panic("boom")
		}
		return "ok", nil
	}
	a := newAside(t, mustLRU[string](t, 100), load)
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() { _, err := a.Get(bg, "k"); errs <- err }()
	}
	require.Eventually(t, func() bool { return a.Stats().Shared == n-1 }, waitFor, tick)
	close(gate)
	for range n {
		err := <-errs
		require.ErrorIs(t, err, ErrLoaderPanic)
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "boom", pe.Value)
		assert.Contains(t, string(pe.Stack), "aside_test.go")
	}
	// Nothing was cached: the next Get loads again.
	v, err := a.Get(bg, "k")
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	assert.Equal(t, uint64(1), a.Stats().LoadErrors)
}

func TestAsideLoaderErrorsAreNotCached(t *testing.T) {
	boom := errors.New("db down")
	var calls atomic.Int64
	a := newAside(t, mustLRU[string](t, 100), func(context.Context, string) (string, error) {
		calls.Add(1)
		return "", boom
	})
	for range 3 {
		_, err := a.Get(bg, "k")
		require.ErrorIs(t, err, boom)
	}
	assert.Equal(t, int64(3), calls.Load())
	assert.Equal(t, uint64(3), a.Stats().LoadErrors)
}

func TestAsideNegativeCaching(t *testing.T) {
	clk := newFakeClock()
	src := newSource()
	a := newAside(t, mustLRU[string](t, 100, WithClock(clk.Now)), src.load,
		WithNegativeTTL(5*time.Second), WithJitter(0), WithClock(clk.Now))
	for range 3 {
		_, err := a.Get(bg, "ghost")
		require.ErrorIs(t, err, ErrNotFound)
	}
	assert.Equal(t, int64(1), src.calls.Load(), "the not-found answer was cached")
	st := a.Stats()
	assert.Equal(t, uint64(1), st.NotFound)
	assert.Equal(t, uint64(0), st.LoadErrors)

	src.put("ghost", "boo") // created in the source of truth...
	clk.Advance(5*time.Second - 1)
	_, err := a.Get(bg, "ghost")
	require.ErrorIs(t, err, ErrNotFound, "...but the negative entry holds for its TTL")
	clk.Advance(1)
	v, err := a.Get(bg, "ghost")
	require.NoError(t, err)
	assert.Equal(t, "boo", v)
	assert.Equal(t, int64(2), src.calls.Load())
}

func TestAsideWithoutNegativeCaching(t *testing.T) {
	src := newSource()
	a := newAside(t, mustLRU[string](t, 100), src.load, WithoutNegativeCaching())
	for range 3 {
		_, err := a.Get(bg, "ghost")
		require.ErrorIs(t, err, ErrNotFound)
	}
	assert.Equal(t, int64(3), src.calls.Load())
}

func TestAsideTTLAndExpiry(t *testing.T) {
	clk := newFakeClock()
	src := newSource()
	src.put("k", "v1")
	a := newAside(t, mustLRU[string](t, 100, WithClock(clk.Now)), src.load,
		WithTTL(time.Minute), WithJitter(0), WithoutEarlyRefresh())
	_, err := a.Get(bg, "k")
	require.NoError(t, err)
	src.put("k", "v2")
	clk.Advance(time.Minute - 1)
	v, _ := a.Get(bg, "k")
	assert.Equal(t, "v1", v)
	clk.Advance(1)
	v, _ = a.Get(bg, "k")
	assert.Equal(t, "v2", v, "reloaded at exactly the TTL")
}

func TestAsideJitterSpreadsTTLs(t *testing.T) {
	src := newSource()
	c := mustLRU[string](t, 1000)
	a := newAside(t, c, src.load, WithTTL(100*time.Second), WithJitter(0.2))
	seen := map[time.Duration]bool{}
	for i := range 200 {
		k := strconv.Itoa(i)
		src.put(k, k)
		_, err := a.Get(bg, k)
		require.NoError(t, err)
		var e Entry[string]
		require.Eventually(t, func() bool { // stored just after Get returned
			var ok bool
			e, ok, _ = c.GetEntry(bg, k)
			return ok
		}, waitFor, tick)
		assert.LessOrEqual(t, e.TTL, 100*time.Second)
		assert.GreaterOrEqual(t, e.TTL, 79*time.Second) // 80s minus the time the test took
		seen[e.TTL.Truncate(time.Second)] = true
	}
	assert.Greater(t, len(seen), 10, "TTLs are spread over the jitter range")
}

func TestAsideEarlyRefresh(t *testing.T) {
	clk := newFakeClock()
	src := newSource()
	src.put("k", "v1")
	load := func(ctx context.Context, key string) (string, error) {
		clk.Advance(time.Second) // the load "takes" 1s: LoadTime = 1s
		return src.load(ctx, key)
	}
	c := mustLRU[string](t, 100, WithClock(clk.Now))
	a := newAside(t, c, load, WithTTL(10*time.Second), WithJitter(0), WithClock(clk.Now))
	a.rand = func() float64 { return 0.5 } // −ln(0.5) ≈ 0.69: refresh with ≤ 0.69s left

	_, err := a.Get(bg, "k")
	require.NoError(t, err)
	src.put("k", "v2")
	clk.Advance(9 * time.Second) // 1s left: not yet
	v, err := a.Get(bg, "k")
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	assert.Equal(t, uint64(0), a.Stats().Refreshes)

	clk.Advance(400 * time.Millisecond) // 0.6s left: due
	v, err = a.Get(bg, "k")
	require.NoError(t, err)
	assert.Equal(t, "v1", v, "the hit is served at once; the refresh runs behind it")
	require.Eventually(t, func() bool { return a.Stats().Loads == 2 }, waitFor, tick)
	assert.Equal(t, uint64(1), a.Stats().Refreshes)
	require.Eventually(t, func() bool {
		e, ok, _ := c.GetEntry(bg, "k")
		return ok && e.Value == "v2"
	}, waitFor, tick)
	e, _, _ := c.GetEntry(bg, "k")
	assert.Equal(t, 10*time.Second, e.TTL, "a full TTL again, before the old value expired")
	assert.Equal(t, uint64(0), a.Stats().Misses-1, "nobody missed")
}

func TestAsideInvalidateAfterUpdate(t *testing.T) {
	src := newSource()
	src.put("k", "v1")
	a := newAside(t, mustLRU[string](t, 100), src.load)
	v, _ := a.Get(bg, "k")
	assert.Equal(t, "v1", v)
	src.put("k", "v2")
	require.NoError(t, a.Invalidate(bg, "k"))
	v, _ = a.Get(bg, "k")
	assert.Equal(t, "v2", v)
}

func TestAsideInvalidateDuringLoadDropsItsResult(t *testing.T) {
	src := newSource()
	src.put("k", "old")
	src.gate = make(chan struct{})
	c := mustLRU[string](t, 100)
	a := newAside(t, c, src.load)
	got := make(chan string, 1)
	go func() { v, _ := a.Get(bg, "k"); got <- v }()
	require.Eventually(t, func() bool { return src.calls.Load() == 1 }, waitFor, tick)
	// The load has read (or will read) the old value; the writer updates
	// and invalidates meanwhile.
	require.NoError(t, a.Invalidate(bg, "k"))
	close(src.gate)
	assert.Equal(t, "old", <-got)
	src.put("k", "new")
	require.Eventually(t, func() bool { return a.Stats().Loads == 1 }, waitFor, tick)
	_, cached, _ := c.Get(bg, "k")
	assert.False(t, cached, "the load that raced the invalidation was not stored")
	v, _ := a.Get(bg, "k")
	assert.Equal(t, "new", v)
}

// failingCache fails every call.
type failingCache struct{ calls atomic.Int64 }

var errCacheDown = errors.New("cache down")

func (f *failingCache) Get(context.Context, string) (string, bool, error) {
	f.calls.Add(1)
	return "", false, errCacheDown
}
func (f *failingCache) Set(context.Context, string, string, time.Duration) error {
	f.calls.Add(1)
	return errCacheDown
}
func (f *failingCache) Delete(context.Context, ...string) error { return errCacheDown }

func TestAsideFailingCacheNeverFailsARead(t *testing.T) {
	src := newSource()
	src.put("k", "v")
	var hooked atomic.Int64
	fc := &failingCache{}
	a := newAside(t, fc, src.load, WithOnError(func(key string, err error) {
		if key == "k" && errors.Is(err, errCacheDown) {
			hooked.Add(1)
		}
	}))
	for range 3 {
		v, err := a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	}
	assert.Equal(t, int64(3), src.calls.Load())
	assert.Equal(t, uint64(6), a.Stats().CacheErrors, "a failed Get and a failed Set per read")
	assert.Equal(t, int64(6), hooked.Load())
	assert.ErrorIs(t, a.Invalidate(bg, "k"), errCacheDown, "the write path reports the failure")
}

func TestAsidePlainCacheHasNoNegativeCaching(t *testing.T) {
	_, err := NewAside[string](&failingCache{}, newSource().load, WithNegativeTTL(time.Second))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewAside[string](&failingCache{}, newSource().load, WithEarlyRefresh(1))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestAsideClose(t *testing.T) {
	src := newSource()
	src.put("k", "v")
	src.gate = make(chan struct{})
	a, err := NewAside[string](mustLRU[string](t, 10), src.load)
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() { _, err := a.Get(bg, "k"); got <- err }()
	require.Eventually(t, func() bool { return src.calls.Load() == 1 }, waitFor, tick)
	require.NoError(t, a.Close()) // cancels the load, waits for it
	assert.ErrorIs(t, <-got, context.Canceled)
	_, err = a.Get(bg, "k")
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, a.Invalidate(bg, "k"), ErrClosed)
	require.NoError(t, a.Close(), "Close twice is fine")
}
