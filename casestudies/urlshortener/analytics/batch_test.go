package analytics

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/pubsub"
)

// clickEvents counts the click events in the store, by type.
func clickEvents(t *testing.T, store cqrs.EventStore) map[string]int {
	t.Helper()
	events, err := store.ReadAll(context.Background(), 1, 1_000_000)
	require.NoError(t, err)
	n := map[string]int{}
	for _, e := range events {
		if e.Type == EventClicks || e.Type == EventClicked {
			n[e.Type]++
		}
	}
	return n
}

// TestABurstIsStoredInFewEvents: 2000 concurrent clicks on one link are
// counted exactly, and stored as batches, not one event per click.
func TestABurstIsStoredInFewEvents(t *testing.T) {
	check := func(t *testing.T, r *rig) {
		const workers, each = 20, 100
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					ua := firefox
					if i%10 == 0 {
						ua = crawler
					}
					assert.NoError(t, r.a.Record(context.Background(),
						Click{Code: "burst", At: day1.Add(time.Duration(w) * time.Minute), Referrer: "https://news.example/", UserAgent: ua}))
				}
			}()
		}
		wg.Wait()
		flush(t, r.a)
		s := stats(t, r.a, "burst")
		assert.Equal(t, int64(workers*each*9/10), s.Total)
		assert.Equal(t, int64(workers*each/10), s.Bots)
		assert.Equal(t, []Count{{"news.example", workers * each * 9 / 10}}, s.Referrers)
		events := clickEvents(t, r.store)
		assert.Zero(t, events[EventClicked], "no single-click events are written any more")
		assert.Positive(t, events[EventClicks])
		assert.LessOrEqual(t, events[EventClicks], workers*each/10, "clicks are batched")
		c := r.a.Counters()
		assert.Equal(t, int64(workers*each), c.Stored)
		assert.Equal(t, int64(workers*each), c.Published)
	}
	t.Run("memory", func(t *testing.T) { check(t, newMemoryRig(t, Config{})) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { check(t, newRedisRig(t, tg, Config{})) })
}

// TestABatchNeverSpansTwoDays: clicks either side of midnight go to the
// streams of their own days.
func TestABatchNeverSpansTwoDays(t *testing.T) {
	r := newMemoryRig(t, Config{})
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	record(t, r.a, Click{Code: "night", At: midnight.Add(-time.Second), UserAgent: firefox})
	record(t, r.a, Click{Code: "night", At: midnight, UserAgent: firefox})
	flush(t, r.a)
	for day, want := range map[string]int{"2026-03-14": 1, "2026-03-15": 1} {
		events, err := r.store.Load(context.Background(), streamID("night", day), 1)
		require.NoError(t, err)
		require.Len(t, events, 1, day)
		var b clickBatch
		require.NoError(t, events[0].Decode(&b))
		assert.Equal(t, int64(want), b.clicks(), day)
	}
	assert.Equal(t, []Count{{"2026-03-14", 1}, {"2026-03-15", 1}}, stats(t, r.a, "night").Days)
}

// TestRebuildOverAMixedHistory: a store written before batching holds
// single-click events (EventClicked); with batches after them, live
// projection and Rebuild count both, and the browser statistic is
// backfilled from both.
func TestRebuildOverAMixedHistory(t *testing.T) {
	check := func(t *testing.T, r *rig) {
		ctx := context.Background()
		for _, ua := range []string{firefox, chrome, crawler} { // as the release before batching stored them
			rec := newRecord(Click{Code: "mixed", At: day1, Referrer: "https://old.example/x", UserAgent: ua}, time.Now)
			_, err := r.store.Append(ctx, streamID(rec.Code, rec.At.Format(DayLayout)), cqrs.AnyVersion,
				cqrs.MustEvent(EventClicked, rec).WithID(rec.ID))
			require.NoError(t, err)
		}
		for _, ua := range []string{firefox, chrome, chrome} {
			record(t, r.a, Click{Code: "mixed", At: day1.Add(time.Hour), Referrer: "https://new.example/", UserAgent: ua})
		}
		flush(t, r.a)
		s := stats(t, r.a, "mixed")
		assert.Equal(t, int64(5), s.Total)
		assert.Equal(t, int64(1), s.Bots)
		assert.Equal(t, []Count{{"new.example", 3}, {"old.example", 2}}, s.Referrers)
		assert.Equal(t, []Count{{"2026-03-14T10", 2}, {"2026-03-14T11", 3}}, s.Hours)

		r.a.EnableBrowsers()
		require.NoError(t, r.a.Rebuild(ctx))
		s = stats(t, r.a, "mixed")
		assert.Equal(t, int64(5), s.Total, "a rebuild counts every click once")
		assert.Equal(t, []Count{{"chrome", 3}, {"firefox", 2}}, s.Browsers)
		assert.False(t, s.BrowsersPartial)
	}
	clock := clocktest.NewAt(day1.Add(2 * time.Hour)) // the hours shown are the last HoursKept
	t.Run("memory", func(t *testing.T) { check(t, newMemoryRig(t, Config{Clock: clock.Now})) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { check(t, newRedisRig(t, tg, Config{Clock: clock.Now})) })
}

// TestMalformedBatchesAreDropped: a message that is neither a click nor a
// batch of valid groups is reported and not stored; the pipeline goes on.
func TestMalformedBatchesAreDropped(t *testing.T) {
	var mu sync.Mutex
	malformed := 0
	r := newMemoryRig(t, Config{Observer: func(e Event) {
		if e.Kind == MalformedClick {
			mu.Lock()
			malformed++
			mu.Unlock()
		}
	}})
	for _, payload := range []string{
		`not json`,
		`{"id":"x1","code":"bad","clicks":[{"at":"2026-03-14T10:30:00Z","n":0}]}`,
		`{"id":"x2","code":"bad","clicks":[]}`,
		`{"code":"bad","clicks":[{"at":"2026-03-14T10:30:00Z","n":2}]}`,
		`{"id":"x3","code":"a.b","clicks":[{"at":"2026-03-14T10:30:00Z","n":2}]}`,
	} {
		require.NoError(t, r.bus.Publish(context.Background(), TopicPrefix+"bad", []byte(payload)))
	}
	require.NoError(t, pubsub.PublishJSON(context.Background(), r.bus, TopicPrefix+"bad",
		clickBatch{ID: "ok1", Code: "bad", Groups: []clickGroup{{At: day1, UserAgent: firefox, N: 3}}}))
	// The bus's workers take messages concurrently: wait for all of them.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return malformed == 5 && stats(t, r.a, "bad").Total == 3
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, map[string]int{EventClicks: 1}, clickEvents(t, r.store))
}
