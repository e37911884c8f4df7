package ratelimit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// eventLog is an observer that records the events it sees.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []EventKind
	for _, e := range l.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestEventKindStrings(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventError: "error", EventTooManyKeys: "too-many-keys", EventDegraded: "degraded",
		EventFallback: "fallback", EventRecovered: "recovered", 0: "EventKind(0)", 99: "EventKind(99)",
	} {
		require.Equal(t, want, k.String())
	}
}

// TestStatsOnEveryBackend: allowed, denied and errors (a bad n) are
// counted alike on every backend; Memory also reports the keys it tracks.
func TestStatsOnEveryBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		lim := b.limiter(t, FixedWindow, PerMinute(3))
		b.alignTo(time.Minute)
		ctx := context.Background()
		for i := 0; i < 4; i++ {
			_, err := lim.Allow(ctx, "a")
			require.NoError(t, err)
		}
		_, err := lim.Allow(ctx, "b")
		require.NoError(t, err)
		_, err = lim.AllowN(ctx, "a", 0)
		require.ErrorIs(t, err, ErrInvalidRequest)
		_, err = peeker(t, lim).Peek(ctx, "a")
		require.NoError(t, err)
		sr, ok := lim.(StatsReporter)
		require.True(t, ok)
		want := Stats{Allowed: 4, Denied: 1, Errors: 1}
		if b.tg == nil {
			want.Keys = 2
		}
		require.Equal(t, want, sr.Stats(), "peeks are not counted")
	})
}

// TestMemoryStatsConcurrent: counters lose nothing under contention.
func TestMemoryStatsConcurrent(t *testing.T) {
	m, err := NewMemory(TokenBucket, PerHour(100))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_, _ = m.Allow(context.Background(), []string{"a", "b", "c"}[i%3])
			}
		}()
	}
	wg.Wait()
	s := m.Stats()
	require.EqualValues(t, 400, s.Allowed+s.Denied)
	require.EqualValues(t, 300, s.Allowed, "3 keys of 100 each, 400 requests")
}

// TestMemoryTooManyKeysEvent: a refused new key is a denial in Stats and
// an EventTooManyKeys carrying its key.
func TestMemoryTooManyKeysEvent(t *testing.T) {
	var seen eventLog
	m, err := NewMemory(FixedWindow, PerMinute(10), WithMaxKeys(1), WithObserver(seen.observe))
	require.NoError(t, err)
	_, err = m.Allow(context.Background(), "a")
	require.NoError(t, err)
	_, err = m.Allow(context.Background(), "b")
	require.ErrorIs(t, err, ErrTooManyKeys)
	require.Equal(t, []EventKind{EventTooManyKeys}, seen.kinds())
	e := seen.events[0]
	require.Equal(t, "b", e.Key)
	require.Equal(t, "memory", e.Limiter)
	require.Equal(t, FixedWindow, e.Algorithm)
	require.ErrorIs(t, e.Err, ErrTooManyKeys)
	require.Equal(t, Stats{Allowed: 1, Denied: 1, Keys: 1}, m.Stats())
}

// TestRedisErrorEvent: a failed Redis call is an error in Stats and an
// EventError, logged at Warn without the key.
func TestRedisErrorEvent(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	var seen eventLog
	var buf bytes.Buffer
	r, err := NewRedis(c, TokenBucket, PerSecond(1), WithTimeout(50*time.Millisecond),
		WithObserver(seen.observe), WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	require.NoError(t, err)
	_, err = r.Allow(context.Background(), "secret-key")
	require.Error(t, err)
	require.Equal(t, []EventKind{EventError}, seen.kinds())
	require.Equal(t, "redis", seen.events[0].Limiter)
	require.Equal(t, "secret-key", seen.events[0].Key)
	require.Equal(t, Stats{Errors: 1}, r.Stats())

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	require.Equal(t, "WARN", line["level"])
	require.Equal(t, "ratelimit: error", line["msg"])
	require.Equal(t, "token-bucket", line["algorithm"])
	require.NotEmpty(t, line["error"])
	require.NotContains(t, buf.String(), "secret-key", "the key is never logged")
}

// TestWrapperEventsAndStats: an outage is one EventDegraded, an
// EventFallback per answer in the limiter's place, and one EventRecovered
// when the limiter answers again; Stats count the answers and fallbacks;
// the logger says so at Warn, Debug and Info, never naming the key.
func TestWrapperEventsAndStats(t *testing.T) {
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			var down atomic.Bool
			inner := &funcLimiter{fn: func(_ context.Context, _ string, n int) (Decision, error) {
				if n < 1 {
					return Decision{Limit: wrapLimit}, ErrInvalidRequest
				}
				if down.Load() {
					return Decision{Limit: wrapLimit}, errDown
				}
				return Decision{Allowed: true, Limit: wrapLimit, Remaining: 3}, nil
			}}
			var seen eventLog
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			w, _ := tc.wrap(inner, WithCooldown(0), WithObserver(seen.observe), WithLogger(log))
			ctx := context.Background()
			_, err := w.Allow(ctx, "secret-key")
			require.NoError(t, err)
			down.Store(true)
			for i := 0; i < 3; i++ {
				_, err = w.Allow(ctx, "secret-key")
				require.NoError(t, err)
			}
			down.Store(false)
			_, err = w.Allow(ctx, "secret-key")
			require.NoError(t, err)
			_, err = w.AllowN(ctx, "secret-key", 0)
			require.Error(t, err)

			require.Equal(t, []EventKind{EventDegraded, EventFallback, EventFallback, EventFallback, EventRecovered}, seen.kinds())
			for _, e := range seen.events {
				require.Equal(t, strings.ToLower(strings.ReplaceAll(tc.name, "Fail", "fail-")), e.Limiter)
				require.Equal(t, "secret-key", e.Key)
			}
			require.ErrorIs(t, seen.events[0].Err, errDown)
			require.NoError(t, seen.events[4].Err)

			s := w.(StatsReporter).Stats()
			require.EqualValues(t, 3, s.Fallbacks)
			require.EqualValues(t, 1, s.Errors, "AllowN(0) is the caller's error")
			require.EqualValues(t, 5, s.Allowed+s.Denied)

			var levels []string
			for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(ln), &m))
				levels = append(levels, m["level"].(string)+" "+m["msg"].(string))
			}
			require.Equal(t, []string{"WARN ratelimit: degraded", "DEBUG ratelimit: fallback", "DEBUG ratelimit: fallback",
				"DEBUG ratelimit: fallback", "INFO ratelimit: recovered"}, levels)
			require.NotContains(t, buf.String(), "secret-key")
		})
	}
}

// TestWrapperPeek: a wrapper peeks at its limiter, and while it fails
// Fallback peeks at the secondary (spending nothing there either), while
// FailOpen and FailClosed answer as they would.
func TestWrapperPeek(t *testing.T) {
	ctx := context.Background()
	primary, err := NewMemory(TokenBucket, PerMinute(5))
	require.NoError(t, err)
	d, err := FailClosed(primary).(Peeker).Peek(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, 5, d.Remaining)

	secondary, err := NewMemory(TokenBucket, PerMinute(2))
	require.NoError(t, err)
	down := answering(Decision{Limit: wrapLimit}, errDown)
	_, err = Fallback(down, secondary).(Peeker).Peek(ctx, "k")
	require.ErrorIs(t, err, ErrInvalidRequest, "a limiter that cannot peek")

	downPeeker := &peekingFunc{funcLimiter: down}
	fb := Fallback(downPeeker, secondary)
	for i := 0; i < 2; i++ {
		d, err = fb.(Peeker).Peek(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, 2, d.Remaining, "the secondary's quota, unspent")
	}
	require.Zero(t, secondary.Keys())
	d, err = FailClosed(downPeeker).(Peeker).Peek(ctx, "k")
	require.NoError(t, err)
	require.False(t, d.Allowed)
	d, err = FailOpen(downPeeker).(Peeker).Peek(ctx, "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

// peekingFunc is a funcLimiter that peeks by answering like AllowN.
type peekingFunc struct{ *funcLimiter }

func (p *peekingFunc) Peek(ctx context.Context, key string) (Decision, error) {
	return p.fn(ctx, key, 1)
}
