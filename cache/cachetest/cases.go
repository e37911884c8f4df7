package cachetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cache"
)

// Cases are the conformance cases TestCache runs, in order.
var Cases = []Case{
	{"miss", miss},
	{"set get overwrite", setGetOverwrite},
	{"odd keys and values", oddKeysAndValues},
	{"delete", deleteKeys},
	{"ttl", ttl},
	{"negative ttl", negativeTTL},
	{"entry metadata", entryMetadata},
	{"negative entry", negativeEntry},
	{"stats count hits and misses", stats},
	{"concurrent sets and gets", concurrent},
	{"aside on it", asideOnIt},
	{"invalidate fences another instance's load", invalidateFencesPeer},
}

var bg = context.Background()

func get(t *testing.T, c cache.Cache[string], key string) (string, bool) {
	t.Helper()
	v, ok, err := c.Get(bg, key)
	require.NoError(t, err, "Get(%q)", key)
	return v, ok
}

// entries returns the cache as an EntryCache, skipping the case when it is
// not one.
func entries(t *testing.T, c cache.Cache[string]) cache.EntryCache[string] {
	t.Helper()
	ec, ok := c.(cache.EntryCache[string])
	if !ok {
		t.Skipf("cachetest: %T does not implement cache.EntryCache", c)
	}
	return ec
}

func miss(t *testing.T, _ Features, b Backend) {
	v, ok, err := b.Cache.Get(bg, "nope")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, "", v, "a miss returns the zero value")
	if ec, isEC := b.Cache.(cache.EntryCache[string]); isEC {
		_, ok, err = ec.GetEntry(bg, "nope")
		require.NoError(t, err)
		assert.False(t, ok, "GetEntry of a missing key")
	}
}

func setGetOverwrite(t *testing.T, _ Features, b Backend) {
	require.NoError(t, b.Cache.Set(bg, "k", "v1", 0))
	v, ok := get(t, b.Cache, "k")
	assert.True(t, ok)
	assert.Equal(t, "v1", v)
	require.NoError(t, b.Cache.Set(bg, "k", "v2", 0))
	v, ok = get(t, b.Cache, "k")
	assert.True(t, ok)
	assert.Equal(t, "v2", v)
}

func oddKeysAndValues(t *testing.T, _ Features, b Backend) {
	for _, k := range []string{"", " ", "a b", "new\nline", "{tag}", "ünï", "1:2 3:4", string([]byte{0, 255})} {
		val := "value of " + k
		require.NoError(t, b.Cache.Set(bg, k, val, 0), "%q", k)
		v, ok := get(t, b.Cache, k)
		assert.True(t, ok, "%q", k)
		assert.Equal(t, val, v, "%q", k)
	}
	require.NoError(t, b.Cache.Set(bg, "empty", "", 0))
	v, ok := get(t, b.Cache, "empty")
	assert.True(t, ok, "an empty value is a hit")
	assert.Equal(t, "", v)
}

func deleteKeys(t *testing.T, _ Features, b Backend) {
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, b.Cache.Set(bg, k, k, 0))
	}
	require.NoError(t, b.Cache.Delete(bg, "a", "c", "missing"), "deleting a missing key is no error")
	require.NoError(t, b.Cache.Delete(bg), "deleting no keys")
	for k, want := range map[string]bool{"a": false, "b": true, "c": false} {
		_, ok := get(t, b.Cache, k)
		assert.Equal(t, want, ok, k)
	}
}

func ttl(t *testing.T, f Features, b Backend) {
	if f.NoTTL {
		t.Skip("cachetest: Features.NoTTL: the cache never expires an entry")
	}
	if b.Advance == nil {
		t.Skip("cachetest: the factory gave no Backend.Advance, so the case cannot wait out a TTL")
	}
	d := b.ttl()
	require.NoError(t, b.Cache.Set(bg, "short", "s", d))
	require.NoError(t, b.Cache.Set(bg, "forever", "f", 0))
	if ec, ok := b.Cache.(cache.EntryCache[string]); ok {
		e, found, err := ec.GetEntry(bg, "short")
		require.NoError(t, err)
		require.True(t, found)
		assert.LessOrEqual(t, e.TTL, d, "the TTL left")
		assert.Greater(t, e.TTL, d/2, "the TTL left")
		e, _, err = ec.GetEntry(bg, "forever")
		require.NoError(t, err)
		assert.Equal(t, time.Duration(0), e.TTL, "no expiry")
	}

	b.Advance(d / 8)
	_, ok := get(t, b.Cache, "short")
	assert.True(t, ok, "alive before its TTL")
	b.Advance(d)
	_, ok = get(t, b.Cache, "short")
	assert.False(t, ok, "gone after its TTL")
	if ec, isEC := b.Cache.(cache.EntryCache[string]); isEC {
		_, ok, err := ec.GetEntry(bg, "short")
		require.NoError(t, err)
		assert.False(t, ok, "GetEntry after its TTL")
	}
	_, ok = get(t, b.Cache, "forever")
	assert.True(t, ok, "an entry without TTL expired")
}

func negativeTTL(t *testing.T, _ Features, b Backend) {
	assert.ErrorIs(t, b.Cache.Set(bg, "k", "v", -time.Millisecond), cache.ErrInvalidRequest, "Set")
	if ec, ok := b.Cache.(cache.EntryCache[string]); ok {
		assert.ErrorIs(t, ec.SetEntry(bg, "k", cache.Entry[string]{TTL: -1}), cache.ErrInvalidRequest, "SetEntry")
	}
	_, ok := get(t, b.Cache, "k")
	assert.False(t, ok, "a refused Set stored the value")
}

func entryMetadata(t *testing.T, _ Features, b Backend) {
	ec := entries(t, b.Cache)
	require.NoError(t, ec.SetEntry(bg, "k", cache.Entry[string]{Value: "v", LoadTime: 1500 * time.Microsecond, TTL: time.Hour}))
	e, ok, err := ec.GetEntry(bg, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v", e.Value)
	assert.False(t, e.NotFound)
	assert.Equal(t, 1500*time.Microsecond, e.LoadTime)
	assert.InDelta(t, float64(time.Hour), float64(e.TTL), float64(time.Second))
	v, ok := get(t, ec, "k")
	assert.True(t, ok, "Get of an entry SetEntry stored")
	assert.Equal(t, "v", v)
}

func negativeEntry(t *testing.T, _ Features, b Backend) {
	ec := entries(t, b.Cache)
	require.NoError(t, ec.SetEntry(bg, "ghost", cache.Entry[string]{NotFound: true, TTL: time.Hour}))
	_, ok := get(t, ec, "ghost")
	assert.False(t, ok, "Get of a negative entry is a miss")
	e, ok, err := ec.GetEntry(bg, "ghost")
	require.NoError(t, err)
	assert.True(t, ok, "GetEntry reports a negative entry")
	assert.True(t, e.NotFound)
}

// statser is a cache that counts what it did.
type statser interface{ Stats() cache.Stats }

func stats(t *testing.T, _ Features, b Backend) {
	s, ok := b.Cache.(statser)
	if !ok {
		t.Skipf("cachetest: %T has no Stats() cache.Stats", b.Cache)
	}
	before := s.Stats()
	get(t, b.Cache, "a")
	require.NoError(t, b.Cache.Set(bg, "a", "x", 0))
	get(t, b.Cache, "a")
	get(t, b.Cache, "a")
	after := s.Stats()
	assert.Equal(t, uint64(2), after.Hits-before.Hits, "hits")
	assert.Equal(t, uint64(1), after.Misses-before.Misses, "misses")
	assert.InDelta(t, 2.0/3.0, after.HitRate(), 1e-9, "hit rate of a fresh cache")
}

// concurrent: writers and readers on shared keys; every value read is one
// some writer stored for that key.
func concurrent(t *testing.T, _ Features, b Backend) {
	const goroutines, keys, rounds = 8, 4, 25
	var wrong atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				k := fmt.Sprint("k", (g+i)%keys)
				if err := b.Cache.Set(bg, k, fmt.Sprintf("%s=%d/%d", k, g, i), 0); err != nil {
					errs <- err
					return
				}
				k = fmt.Sprint("k", i%keys)
				v, ok, err := b.Cache.Get(bg, k)
				if err != nil {
					errs <- err
					return
				}
				if ok && !strings.HasPrefix(v, k+"=") {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Zero(t, wrong.Load(), "a Get returned another key's value")
}

func asideOnIt(t *testing.T, _ Features, b Backend) {
	var calls atomic.Int64
	var mu sync.Mutex
	src := map[string]string{"1": "ada"}
	load := func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		v, ok := src[key]
		if !ok {
			return "", fmt.Errorf("user %s: %w", key, cache.ErrNotFound)
		}
		return v, nil
	}
	a, err := cache.NewAside(b.Cache, load, cache.WithTTL(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

	for range 3 {
		v, err := a.Get(bg, "1")
		require.NoError(t, err)
		assert.Equal(t, "ada", v)
	}
	_, err = a.Get(bg, "2")
	require.ErrorIs(t, err, cache.ErrNotFound)
	_, err = a.Get(bg, "2")
	require.ErrorIs(t, err, cache.ErrNotFound)
	wantCalls := int64(2) // "1" once, "2" once: negative caching
	if _, ok := b.Cache.(cache.EntryCache[string]); !ok {
		wantCalls = 3 // no negative caching on a plain Cache
	}
	assert.Equal(t, wantCalls, calls.Load(), "loader calls")

	mu.Lock()
	src["1"] = "grace"
	mu.Unlock()
	require.NoError(t, a.Invalidate(bg, "1"))
	v, err := a.Get(bg, "1")
	require.NoError(t, err)
	assert.Equal(t, "grace", v, "a read after Invalidate")
}

// invalidateFencesPeer: an Aside over Backend.Peer loads the old value
// and is held there; an Aside over Cache writes and invalidates; the held
// load ends. Its caller gets the old value (it asked first), but neither
// instance serves the old value afterwards.
func invalidateFencesPeer(t *testing.T, _ Features, b Backend) {
	if b.Peer == nil {
		t.Skip("cachetest: no Backend.Peer")
	}
	var mu sync.Mutex
	value := "old"
	read := func() string {
		mu.Lock()
		defer mu.Unlock()
		return value
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	held := func(ctx context.Context, _ string) (string, error) {
		v := read()
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return v, nil
	}
	load := func(context.Context, string) (string, error) { return read(), nil }
	writer, err := cache.NewAside(b.Cache, load, cache.WithTTL(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { _ = writer.Close() })
	other, err := cache.NewAside(b.Peer, held, cache.WithTTL(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })

	got := make(chan string, 1)
	go func() {
		v, err := other.Get(bg, "k")
		assert.NoError(t, err)
		got <- v
	}()
	<-entered
	mu.Lock()
	value = "new"
	mu.Unlock()
	require.NoError(t, writer.Invalidate(bg, "k"))
	close(release)
	assert.Equal(t, "old", <-got, "the held load's caller asked before the write")
	for _, a := range []*cache.Aside[string]{writer, other} {
		v, err := a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "new", v, "the old value was stored after the Invalidate")
	}
}
