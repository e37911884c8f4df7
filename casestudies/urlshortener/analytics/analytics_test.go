package analytics

import (
	"context"
	"fmt"
	"strings"
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

// day1 is 10:30 UTC on a day; clicks go on for a day and a half from it.
var day1 = time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)

// clickAll records the fixture: 3 clicks from news.example (one with a path
// and query, which must not matter), 2 direct, 1 from a bot, over two days.
func clickAll(t *testing.T, a *Analytics, code string) {
	t.Helper()
	for _, c := range []Click{
		{At: day1, Referrer: "https://news.example/item?id=1&token=secret", UserAgent: firefox},
		{At: day1.Add(10 * time.Minute), Referrer: "https://NEWS.example/", UserAgent: chrome},
		{At: day1.Add(time.Hour), Referrer: "", UserAgent: chrome},
		{At: day1.Add(25 * time.Hour), Referrer: "http://news.example", UserAgent: firefox},
		{At: day1.Add(26 * time.Hour), Referrer: "not a url", UserAgent: firefox},
		{At: day1.Add(26 * time.Hour), Referrer: "https://news.example/", UserAgent: crawler},
	} {
		c.Code = code
		record(t, a, c)
	}
}

func assertFixtureStats(t *testing.T, s Stats, code string) {
	t.Helper()
	assert.Equal(t, code, s.Code)
	assert.Equal(t, int64(5), s.Total)
	assert.Equal(t, int64(1), s.Bots)
	assert.Equal(t, []Count{{"news.example", 3}, {DirectReferrer, 2}}, s.Referrers)
	assert.Equal(t, []Count{{"2026-03-14", 3}, {"2026-03-15", 2}}, s.Days)
	assert.Equal(t, []Count{{"2026-03-14T10", 2}, {"2026-03-14T11", 1}, {"2026-03-15T11", 1}, {"2026-03-15T12", 1}}, s.Hours)
	assert.Zero(t, s.Lag)
	assert.Nil(t, s.Browsers, "the browser statistic is off")
}

func TestStatsCountsHumansBotsReferrersDaysAndHours(t *testing.T) {
	clock := clocktest.NewAt(day1.Add(27 * time.Hour))
	t.Run("memory", func(t *testing.T) {
		r := newMemoryRig(t, Config{Clock: clock.Now})
		clickAll(t, r.a, "abc1234")
		flush(t, r.a)
		assertFixtureStats(t, stats(t, r.a, "abc1234"), "abc1234")
		assert.Equal(t, Stats{Code: "other-1"}, stats(t, r.a, "other-1"), "a code never clicked has zero counts")
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := newRedisRig(t, tg, Config{Clock: clock.Now})
		clickAll(t, r.a, "my_alias-1") // aliases may hold '_' and '-'
		flush(t, r.a)
		assertFixtureStats(t, stats(t, r.a, "my_alias-1"), "my_alias-1")
	})
}

func TestHoursShowTheLast48HoursOnly(t *testing.T) {
	clock := clocktest.NewAt(day1)
	r := newMemoryRig(t, Config{Clock: clock.Now})
	record(t, r.a, Click{Code: "abc", UserAgent: firefox}) // At zero: the clock's time
	flush(t, r.a)
	assert.Equal(t, []Count{{"2026-03-14T10", 1}}, stats(t, r.a, "abc").Hours)

	clock.Advance(47 * time.Hour)
	assert.Equal(t, []Count{{"2026-03-14T10", 1}}, stats(t, r.a, "abc").Hours, "47 hours later it is the oldest of 48")
	clock.Advance(time.Hour)
	s := stats(t, r.a, "abc")
	assert.Empty(t, s.Hours)
	assert.Equal(t, []Count{{"2026-03-14", 1}}, s.Days, "days are kept")
}

// TestBurstOfConcurrentRecordsCountedOnce: 1000 Records at once, from 50
// goroutines, are each counted exactly once.
func TestBurstOfConcurrentRecordsCountedOnce(t *testing.T) {
	const n, workers = 1000, 50
	burst := func(t *testing.T, a *Analytics) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n / workers {
					ref := fmt.Sprintf("https://site%d.example/", (w*n/workers+i)%4)
					assert.NoError(t, a.Record(context.Background(), Click{Code: "burst", At: day1, Referrer: ref, UserAgent: firefox}))
				}
			}()
		}
		wg.Wait()
		flush(t, a)
		s := stats(t, a, "burst")
		assert.Equal(t, int64(n), s.Total)
		assert.Equal(t, []Count{{"site0.example", n / 4}, {"site1.example", n / 4}, {"site2.example", n / 4}, {"site3.example", n / 4}}, s.Referrers)
		assert.Equal(t, []Count{{"2026-03-14", n}}, s.Days)
		c := a.Counters()
		c.Duplicates = 0 // redeliveries happen (at least once), and count once
		assert.Equal(t, Counters{Recorded: n, Published: n, Stored: n}, c)
	}
	t.Run("memory", func(t *testing.T) { burst(t, newMemoryRig(t, Config{}).a) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { burst(t, newRedisRig(t, tg, Config{}).a) })
}

// TestCloseStoresEveryRecordedClick: on the memory bus (which loses what it
// holds), Close returns only once every recorded click is in the store: a
// new instance on the same store counts them all.
func TestCloseStoresEveryRecordedClick(t *testing.T) {
	const n = 500
	store := cqrs.NewMemoryStore()
	r := newMemoryRig(t, Config{Store: store})
	for range n {
		record(t, r.a, Click{Code: "closing", At: day1, UserAgent: chrome})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.a.Close(ctx))
	assert.ErrorIs(t, r.a.Record(ctx, Click{Code: "closing"}), ErrClosed)
	assert.ErrorIs(t, r.a.Flush(ctx), ErrClosed)
	assert.ErrorIs(t, r.a.Start(ctx), ErrClosed)
	assert.Equal(t, int64(n), r.a.Counters().Stored)

	again := newMemoryRig(t, Config{Store: store})
	flush(t, again.a)
	assert.Equal(t, int64(n), stats(t, again.a, "closing").Total)
}

// TestPublishedClicksSurviveTheConsumersAbsence: on Redis, clicks published
// while no instance consumes wait in the durable group; an instance started
// later stores and counts them.
func TestPublishedClicksSurviveTheConsumersAbsence(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		const n = 40
		first := newRedisRig(t, tg, Config{})
		require.NoError(t, first.a.Close(context.Background())) // the group exists, nobody consumes

		bus, err := pubsub.NewRedis(tg.Client, pubsub.WithPrefix(tg.Prefix+"ps:"))
		require.NoError(t, err)
		defer bus.Close()
		for range n { // as a Record of another instance would
			rec := newRecord(Click{Code: "durable", At: day1, UserAgent: firefox}, time.Now)
			require.NoError(t, pubsub.PublishJSON(context.Background(), bus, TopicPrefix+rec.Code, rec))
		}

		second := newRedisRig(t, tg, Config{})
		require.Eventually(t, func() bool { return stats(t, second.a, "durable").Total == n },
			10*time.Second, 5*time.Millisecond)
	})
}

// TestRedeliveredClickIsCountedOnce: the bus delivers at least once; a click
// delivered twice is stored once.
func TestRedeliveredClickIsCountedOnce(t *testing.T) {
	r := newMemoryRig(t, Config{})
	rec := newRecord(Click{Code: "twice", At: day1, UserAgent: firefox}, time.Now)
	for range 3 {
		require.NoError(t, pubsub.PublishJSON(context.Background(), r.bus, TopicPrefix+rec.Code, rec))
	}
	require.Eventually(t, func() bool {
		c := r.a.Counters()
		return c.Stored == 1 && c.Duplicates == 2
	}, 5*time.Second, time.Millisecond)
	flush(t, r.a)
	assert.Equal(t, int64(1), stats(t, r.a, "twice").Total)
}

// TestRebuildBackfillsANewStatistic: the browser statistic, enabled after
// clicks were counted, is partial until Rebuild recounts the history.
func TestRebuildBackfillsANewStatistic(t *testing.T) {
	check := func(t *testing.T, a *Analytics) {
		ctx := context.Background()
		record(t, a, Click{Code: "later", At: day1, UserAgent: firefox})
		record(t, a, Click{Code: "later", At: day1, UserAgent: chrome})
		flush(t, a)
		assert.Nil(t, stats(t, a, "later").Browsers)

		a.EnableBrowsers()
		record(t, a, Click{Code: "later", At: day1, UserAgent: chrome})
		flush(t, a)
		s := stats(t, a, "later")
		assert.Equal(t, []Count{{"chrome", 1}}, s.Browsers)
		assert.True(t, s.BrowsersPartial)
		assert.Equal(t, int64(3), s.Total)

		require.NoError(t, a.Rebuild(ctx))
		s = stats(t, a, "later")
		assert.Equal(t, []Count{{"chrome", 2}, {"firefox", 1}}, s.Browsers)
		assert.False(t, s.BrowsersPartial)
		assert.Equal(t, int64(3), s.Total, "a rebuild counts every click once")
	}
	t.Run("memory", func(t *testing.T) { check(t, newMemoryRig(t, Config{}).a) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { check(t, newRedisRig(t, tg, Config{}).a) })
}

func TestLinkEventsInTheStoreAreSkipped(t *testing.T) {
	store := cqrs.NewMemoryStore()
	_, err := store.Append(context.Background(), "link-abc", cqrs.NoStream, cqrs.MustEvent("link-created", map[string]string{"code": "abc"}))
	require.NoError(t, err)
	r := newMemoryRig(t, Config{Store: store})
	record(t, r.a, Click{Code: "abc", At: day1, UserAgent: firefox})
	flush(t, r.a)
	assert.Equal(t, int64(1), stats(t, r.a, "abc").Total)
}

func TestBadInputIsAnError(t *testing.T) {
	bus := pubsub.NewMemory()
	defer bus.Close()
	store := cqrs.NewMemoryStore()
	for name, cfg := range map[string]Config{
		"no bus":          {Store: store},
		"no store":        {Bus: bus},
		"brace in prefix": {Bus: bus, Store: store, Prefix: "a{b}:"},
	} {
		_, err := New(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}

	r := newMemoryRig(t, Config{})
	for _, code := range []string{"", "a.b", "a b", "*", "#", "x\n", string(make([]byte, MaxCodeLen+1))} {
		assert.ErrorIs(t, r.a.Record(context.Background(), Click{Code: code}), ErrInvalidClick, "%q", code)
		_, err := r.a.Stats(context.Background(), code)
		assert.ErrorIs(t, err, ErrInvalidClick, "%q", code)
	}
	assert.ErrorIs(t, r.a.Start(context.Background()), ErrStarted)
}

// TestRecordFailsFastWhenTheBufferIsFull: with the publishers not started,
// the buffer fills; Record then fails at once.
func TestRecordFailsFastWhenTheBufferIsFull(t *testing.T) {
	bus := pubsub.NewMemory()
	defer bus.Close()
	a, err := New(Config{Bus: bus, Store: cqrs.NewMemoryStore()})
	require.NoError(t, err)
	for range DefaultBufferSize {
		require.NoError(t, a.Record(context.Background(), Click{Code: "full"}))
	}
	assert.ErrorIs(t, a.Flush(context.Background()), ErrNotStarted)
	start := time.Now()
	err = a.Record(context.Background(), Click{Code: "full"})
	assert.ErrorIs(t, err, ErrOverloaded)
	_, late := redistest.Late(start, 50*time.Millisecond)
	assert.False(t, late, "Record waited for buffer room")
	assert.Equal(t, int64(1), a.Counters().Overloaded)
	require.NoError(t, a.Close(context.Background()))
	assert.Equal(t, int64(DefaultBufferSize), a.Counters().Lost, "closed before it started: the buffer is lost, and counted")
}

// TestRedisOutageDelaysClicksWithoutLosingThem: while the analytics' Redis
// is unreachable Record still returns at once (the click waits in the
// buffer); once it is back every click is published, stored and counted.
func TestRedisOutageDelaysClicksWithoutLosingThem(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		const n = 20
		r := newRedisRig(t, tg, Config{})
		record(t, r.a, Click{Code: "outage", At: day1, UserAgent: firefox})
		flush(t, r.a) // the group is read and the model written before the cut

		tg.Cut()
		for range n - 1 {
			start := time.Now()
			record(t, r.a, Click{Code: "outage", At: day1, UserAgent: firefox})
			_, late := redistest.Late(start, 50*time.Millisecond)
			assert.False(t, late, "Record waited for the unreachable Redis")
		}
		time.Sleep(100 * time.Millisecond) // publishes fail and are retried meanwhile
		tg.Heal()

		flush(t, r.a)
		assert.Equal(t, int64(n), stats(t, r.a, "outage").Total)
		assert.Zero(t, r.a.Counters().Lost)
	})
}

// TestTwoInstancesShareOneCount: two instances on one Redis share the
// consumer group and the read model (two runners race on it): each click,
// whichever instance recorded and stored it, is counted once, and both
// instances answer the same statistics.
func TestTwoInstancesShareOneCount(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		const each = 100
		one, two := newRedisRig(t, tg, Config{}), newRedisRig(t, tg, Config{})
		var wg sync.WaitGroup
		for _, a := range []*Analytics{one.a, two.a} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					assert.NoError(t, a.Record(context.Background(), Click{Code: "fleet", At: day1, UserAgent: firefox}))
				}
			}()
		}
		wg.Wait()
		for _, a := range []*Analytics{one.a, two.a} {
			require.Eventually(t, func() bool {
				s := stats(t, a, "fleet")
				return s.Total == 2*each && s.Lag == 0
			}, time.Minute, 5*time.Millisecond)
		}
		// A click redelivered to the other instance is stored by both (the
		// second append an exact retry): the sum is at least every click.
		assert.GreaterOrEqual(t, one.a.Counters().Stored+two.a.Counters().Stored, int64(2*each))
	})
}

// TestResetStartsAReusedCodeFromZero: with Config.Reset, a link created
// again under a code (an alias reused after a delete) does not inherit the
// old link's clicks, and a deleted link's statistics are dropped.
func TestResetStartsAReusedCodeFromZero(t *testing.T) {
	reset := func(e cqrs.Event) (string, bool) {
		code, ok := strings.CutPrefix(e.StreamID, "link-")
		return code, ok && (e.Type == "link-created" || e.Type == "link-deleted")
	}
	check := func(t *testing.T, r *rig) {
		ctx := context.Background()
		lifecycle := func(typ string) {
			_, err := r.store.Append(ctx, "link-reused", cqrs.AnyVersion, cqrs.MustEvent(typ, map[string]string{}))
			require.NoError(t, err)
		}
		lifecycle("link-created")
		record(t, r.a, Click{Code: "reused", At: day1, UserAgent: firefox})
		record(t, r.a, Click{Code: "reused", At: day1, UserAgent: firefox})
		flush(t, r.a)
		assert.Equal(t, int64(2), stats(t, r.a, "reused").Total)

		lifecycle("link-deleted")
		flush(t, r.a)
		assert.Equal(t, Stats{Code: "reused"}, stats(t, r.a, "reused"), "a deleted link's statistics are dropped")

		lifecycle("link-created")
		record(t, r.a, Click{Code: "reused", At: day1, UserAgent: firefox})
		flush(t, r.a)
		assert.Equal(t, int64(1), stats(t, r.a, "reused").Total, "the new link starts from zero")

		require.NoError(t, r.a.Rebuild(ctx))
		assert.Equal(t, int64(1), stats(t, r.a, "reused").Total, "a rebuild replays the resets too")
	}
	t.Run("memory", func(t *testing.T) { check(t, newMemoryRig(t, Config{Reset: reset})) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { check(t, newRedisRig(t, tg, Config{Reset: reset})) })
}
