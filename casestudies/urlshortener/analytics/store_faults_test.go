package analytics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

var errStoreDown = errors.New("store down")

// failingStore fails the appends of clicks while failures > 0 (each failure
// uses one up; a negative count fails for ever).
type failingStore struct {
	*cqrs.MemoryStore
	failures atomic.Int64
}

func (s *failingStore) Append(ctx context.Context, stream string, expected int64, events ...cqrs.Event) (int64, error) {
	if n := s.failures.Load(); n < 0 || n > 0 && s.failures.CompareAndSwap(n, n-1) {
		return 0, errStoreDown
	}
	return s.MemoryStore.Append(ctx, stream, expected, events...)
}

func fastRetryRig(t *testing.T, store cqrs.EventStore, observe func(Event)) *rig {
	t.Helper()
	bus := pubsub.NewMemory(pubsub.WithBackoff(time.Millisecond, 2*time.Millisecond))
	t.Cleanup(func() { _ = bus.Close() })
	return startRig(t, Config{Bus: bus, Store: store, Observer: observe})
}

func TestAFailingAppendIsRetriedAndCountedOnce(t *testing.T) {
	store := &failingStore{MemoryStore: cqrs.NewMemoryStore()}
	store.failures.Store(StoreAttempts - 1)
	r := fastRetryRig(t, store, nil)
	record(t, r.a, Click{Code: "retry", At: day1, UserAgent: firefox})
	flush(t, r.a)
	assert.Equal(t, int64(1), stats(t, r.a, "retry").Total)
	assert.Zero(t, r.a.Counters().Lost)
}

// TestCloseDoesNotWaitForAStoreThatNeverAnswers: clicks the store refuses
// through every attempt are dead-lettered and counted lost; Close returns.
// Clicks travel in batches: the events are counted by the clicks they
// concern (Event.Clicks), however the three clicks were batched.
func TestCloseDoesNotWaitForAStoreThatNeverAnswers(t *testing.T) {
	store := &failingStore{MemoryStore: cqrs.NewMemoryStore()}
	store.failures.Store(-1)
	var mu sync.Mutex
	kinds := map[EventKind]int64{}
	r := fastRetryRig(t, store, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds[e.Kind] += e.Clicks
		assert.Equal(t, "lost", e.Code)
		assert.ErrorIs(t, e.Err, errStoreDown)
	})
	for range 3 {
		record(t, r.a, Click{Code: "lost", At: day1, UserAgent: firefox})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.a.Close(ctx))
	c := r.a.Counters()
	assert.Equal(t, int64(3), c.Lost)
	assert.Zero(t, c.Stored)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[EventKind]int64{StoreFailed: 3 * StoreAttempts, ClickLost: 3}, kinds)
}

func TestEventKindStrings(t *testing.T) {
	for k, s := range map[EventKind]string{ClickLost: "click-lost", Overloaded: "overloaded", StoreFailed: "store-failed", MalformedClick: "malformed-click", 0: "unknown"} {
		assert.Equal(t, s, k.String())
	}
}

// headless hides the store's Head: a store of another make.
type headless struct{ cqrs.EventStore }

func TestStatsOnAStoreWithoutHead(t *testing.T) {
	r := newMemoryRig(t, Config{Store: headless{cqrs.NewMemoryStore()}})
	record(t, r.a, Click{Code: "nohead", At: day1, UserAgent: firefox})
	require.Eventually(t, func() bool {
		s := stats(t, r.a, "nohead")
		return s.Total == 1 && s.Lag == 0 // Lag without an error: the click's own path only
	}, 10*time.Second, time.Millisecond)
}

// TestOverloadIsLoggedSparingly: a full buffer drops every click, and the
// observer sees each, but the log gets one line per second, not one per
// redirect.
func TestOverloadIsLoggedSparingly(t *testing.T) {
	bus := pubsub.NewMemory()
	defer bus.Close()
	var logged bytes.Buffer
	var observed atomic.Int64
	a, err := New(Config{Bus: bus, Store: cqrs.NewMemoryStore(),
		Logger:   slog.New(slog.NewJSONHandler(&lockedWriter{w: &logged}, nil)),
		Observer: func(e Event) { observed.Add(1) }})
	require.NoError(t, err)
	for range DefaultBufferSize { // not started: nothing drains the buffer
		require.NoError(t, a.Record(context.Background(), Click{Code: "full"}))
	}
	for range 100 {
		assert.ErrorIs(t, a.Record(context.Background(), Click{Code: "full"}), ErrOverloaded)
	}
	assert.Equal(t, int64(100), observed.Load())
	assert.Equal(t, 1, strings.Count(logged.String(), `"kind":"overloaded"`))
	_ = a.Close(context.Background())
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
