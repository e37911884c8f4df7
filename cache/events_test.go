package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/logtest"
)

// events collects what an observer is given, from any goroutine.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) observe(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

// of returns the events of kind k so far.
func (e *events) of(k EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.list {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// last returns the kind of the latest event of one of kinds, or 0.
func (e *events) last(kinds ...EventKind) EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.list) - 1; i >= 0; i-- {
		for _, k := range kinds {
			if e.list[i].Kind == k {
				return k
			}
		}
	}
	return 0
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventLoadError: "load-error", EventCacheError: "cache-error", EventLockError: "lock-error",
		EventFleetWait: "fleet-wait", EventEarlyRefresh: "early-refresh", EventNegativeHit: "negative-hit",
		EventSubscriptionLost: "subscription-lost", EventResubscribed: "resubscribed",
		0: "EventKind(0)", 99: "EventKind(99)",
	} {
		assert.Equal(t, want, k.String())
	}
}

func TestAsideObserverLoadErrorsAndNegativeHits(t *testing.T) {
	errDB := errors.New("db down")
	load := func(_ context.Context, key string) (string, error) {
		switch key {
		case "bad":
			return "", errDB
		case "panics":
			panic("loader bug")
		case "gone":
			return "", ErrNotFound
		}
		return "v", nil
	}
	var got events
	a := newAside(t, mustLRU[string](t, 10), load, WithObserver(got.observe))

	_, err := a.Get(bg, "bad")
	require.ErrorIs(t, err, errDB)
	_, err = a.Get(bg, "panics")
	require.ErrorIs(t, err, ErrLoaderPanic)
	loadErrs := got.of(EventLoadError)
	require.Len(t, loadErrs, 2)
	assert.Equal(t, "bad", loadErrs[0].Key)
	assert.ErrorIs(t, loadErrs[0].Err, errDB)
	assert.Positive(t, loadErrs[0].Duration, "how long the loader ran")
	var pe *PanicError
	assert.ErrorAs(t, loadErrs[1].Err, &pe)

	for range 2 {
		_, err = a.Get(bg, "gone")
		require.ErrorIs(t, err, ErrNotFound)
	}
	assert.Empty(t, got.of(EventLoadError)[2:], "ErrNotFound is no failure")
	neg := got.of(EventNegativeHit)
	require.Len(t, neg, 1, "the second lookup was answered by the negative entry")
	assert.Equal(t, Event{Kind: EventNegativeHit, Key: "gone"}, neg[0])

	_, err = a.Get(bg, "fine")
	require.NoError(t, err)
	assert.Len(t, got.list, 3, "a plain miss and load report nothing")
}

func TestAsideObserverEarlyRefresh(t *testing.T) {
	clk := newFakeClock()
	load := func(context.Context, string) (string, error) {
		clk.Advance(time.Second)
		return "v", nil
	}
	var got events
	c := mustLRU[string](t, 10, WithClock(clk.Now))
	a := newAside(t, c, load, WithTTL(10*time.Second), WithJitter(0), WithClock(clk.Now), WithObserver(got.observe))
	a.rand = func() float64 { return 0.5 }
	_, err := a.Get(bg, "k")
	require.NoError(t, err)
	clk.Advance(9500 * time.Millisecond) // 0.5s left: due
	_, err = a.Get(bg, "k")
	require.NoError(t, err)
	assert.Equal(t, []Event{{Kind: EventEarlyRefresh, Key: "k"}}, got.of(EventEarlyRefresh))
	require.Eventually(t, func() bool { return a.Stats().Loads == 2 }, waitFor, tick)
}

// TestAsideObserverCalledOutsideLocks: an observer may call back into the
// Aside (here Invalidate, which takes the Aside's and the load's locks)
// without deadlocking, and WithOnError hears the same failures.
func TestAsideObserverCalledOutsideLocks(t *testing.T) {
	src := newSource()
	src.put("k", "v")
	var (
		a       *Aside[string]
		got     events
		onError events
	)
	a = newAside(t, &failingCache{}, src.load,
		WithObserver(func(e Event) {
			got.observe(e)
			_ = a.Invalidate(bg, e.Key)
			_ = a.Stats()
		}),
		WithOnError(func(key string, err error) { onError.observe(Event{Key: key, Err: err}) }))
	done := make(chan error, 1)
	go func() { _, err := a.Get(bg, "k"); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Get deadlocked: the observer was called under a lock")
	}
	cacheErrs := got.of(EventCacheError)
	require.Len(t, cacheErrs, 2, "the failed read and the failed store")
	for _, e := range cacheErrs {
		assert.Equal(t, "k", e.Key)
		assert.ErrorIs(t, e.Err, errCacheDown)
	}
	assert.Len(t, onError.list, 2, "WithOnError fired alongside")
	assert.Equal(t, uint64(4), a.Stats().CacheErrors, "and the observer's two Invalidates failed too")
}

func TestAsideLogger(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	load := func(_ context.Context, key string) (string, error) {
		if key == "secret-user-42" {
			return "", errors.New("db down")
		}
		return "", ErrNotFound
	}
	a := newAside(t, &failingCache{}, load, WithLogger(logger), WithoutNegativeCaching())
	_, err := a.Get(bg, "secret-user-42")
	require.Error(t, err)
	mu.Lock()
	recs := logtest.Records(t, buf.String())
	mu.Unlock()
	levels := map[string]string{}
	for _, r := range recs {
		levels[r["event"].(string)] = r["level"].(string)
		assert.NotContains(t, r, "key", "keys may identify users")
		assert.NotEmpty(t, r["error"])
	}
	assert.Equal(t, map[string]string{"cache-error": "WARN", "load-error": "ERROR"}, levels)
	assert.Len(t, recs, 2, "the cache read failed, then the load; a failed load stores nothing")
	assert.NotContains(t, buf.String(), "secret-user-42")

	buf.Reset()
	_, err = a.Get(bg, "missing")
	require.ErrorIs(t, err, ErrNotFound)
	mu.Lock()
	recs = logtest.Records(t, buf.String())
	mu.Unlock()
	require.Len(t, recs, 1, "only the cache read failed: ErrNotFound is no failure")
	assert.Equal(t, "cache-error", recs[0]["event"])
}

// lockedWriter serializes writes from many goroutines.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
