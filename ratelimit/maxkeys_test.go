package ratelimit

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A full key table (WithMaxKeys) refuses a new key: that is a decision for
// that key alone (issue 12 #5), never an outage that changes the answers
// for the keys already tracked.

// fullTable returns a memory limiter of 10 per minute that tracks at most
// one key, and fills it with "established", which has used one unit.
func fullTable(t *testing.T) *Memory {
	t.Helper()
	m, err := NewMemory(FixedWindow, PerMinute(10), WithClock(newMWClock().Now), WithMaxKeys(1))
	require.NoError(t, err)
	d, err := m.Allow(context.Background(), "established")
	require.NoError(t, err)
	require.Equal(t, 9, d.Remaining)
	return m
}

func TestMemoryFullTableDeniesTheNewKey(t *testing.T) {
	m := fullTable(t)
	d, err := m.Allow(context.Background(), "new")
	require.ErrorIs(t, err, ErrTooManyKeys)
	require.False(t, d.Allowed)
	require.Equal(t, m.Limit(), d.Limit)
	require.Zero(t, d.Remaining)
	// A fixed window of a minute goes idle within two: room may be made
	// by then (sweeps run at least once a minute).
	require.Equal(t, time.Minute, d.RetryAfter, "a denial says when to try again")

	d, err = m.Allow(context.Background(), "established")
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, 8, d.Remaining, "the tracked key is decided as usual")
}

// For every wrapper: the new key is denied with ErrTooManyKeys passed
// through, nothing degrades (no hook, no secondary, no cooldown), and the
// established key keeps getting the limiter's own answers: its 9 remaining
// units, then denials. Before the fix, FailClosed denied it for the whole
// cooldown and FailOpen let it through past its limit.
func TestWrappersPassAFullTableThrough(t *testing.T) {
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			var hook degradeCounter
			m := fullTable(t)
			w, secondary := tc.wrap(m, hook.option())
			ctx := context.Background()
			for range 3 {
				d, err := w.Allow(ctx, "new")
				require.ErrorIs(t, err, ErrTooManyKeys)
				require.False(t, d.Allowed)
			}
			for i := range 50 {
				d, err := w.Allow(ctx, "established")
				require.NoError(t, err)
				require.Equal(t, i < 9, d.Allowed, "request %d of the established key", i)
				require.Equal(t, m.Limit(), d.Limit, "decided by the limiter, not in its place")
			}
			require.Zero(t, hook.n.Load(), "a full table is not a degradation")
			if secondary != nil {
				require.Zero(t, secondary.calls.Load(), "Fallback must not route a refused key to its secondary")
			}
		})
	}
}

// While Redis is down, Fallback's local limiter may be the one whose table
// is full: its refusal still reaches the caller as a denial of that key.
func TestFallbackSecondaryFullTableDenies(t *testing.T) {
	var hook degradeCounter
	l := Fallback(answering(Decision{}, errDown), fullTable(t), hook.option())
	d, err := l.Allow(context.Background(), "new")
	require.ErrorIs(t, err, ErrTooManyKeys)
	require.ErrorIs(t, err, errDown, "the primary's failure is kept for diagnosis")
	require.False(t, d.Allowed)
	require.Positive(t, d.RetryAfter)
	require.EqualValues(t, 1, hook.n.Load(), "the primary's failure was a degradation")

	h, next := newHandler(t, l, func(*http.Request) string { return "new" })
	w := serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "too-many-keys", w.Header().Get("X-RateLimit-Reason"))
	require.Zero(t, next.n.Load())
}

// tooManyKeysHook records the keys WithOnTooManyKeys saw.
type tooManyKeysHook struct{ n atomic.Int64 }

func (h *tooManyKeysHook) option(t *testing.T, wantKey string) MiddlewareOption {
	return WithOnTooManyKeys(func(r *http.Request, key string) {
		require.Equal(t, wantKey, key)
		require.NotNil(t, r)
		h.n.Add(1)
	})
}

// The three middleware scenarios: bare, FailClosed and FailOpen.
func TestMiddlewareFullTableDeniesOnlyTheNewClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(Limiter) Limiter
	}{
		{"bare", func(l Limiter) Limiter { return l }},
		{"FailClosed", func(l Limiter) Limiter { return FailClosed(l) }},
		{"FailOpen", func(l Limiter) Limiter { return FailOpen(l) }},
		{"Fallback", func(l Limiter) Limiter { return Fallback(l, answering(Decision{Allowed: true}, nil)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMemory(FixedWindow, PerMinute(10), WithClock(newMWClock().Now), WithMaxKeys(1))
			require.NoError(t, err)
			var hook tooManyKeysHook
			var onError atomic.Int64
			h, next := newHandler(t, tc.wrap(m), nil, hook.option(t, "192.0.2.2"),
				WithOnError(func(http.ResponseWriter, *http.Request, error) bool { onError.Add(1); return false }))
			const established, newcomer = "192.0.2.1:1", "192.0.2.2:1"
			require.Equal(t, http.StatusOK, serve(h, established).Code)

			for i := range 100 {
				w := serve(h, newcomer)
				require.Equal(t, http.StatusTooManyRequests, w.Code, "request %d of the new client", i)
				require.Equal(t, "too-many-keys", w.Header().Get("X-RateLimit-Reason"))
				require.Equal(t, "60", w.Header().Get("Retry-After"))
				require.Equal(t, `"default";r=0;t=60`, w.Header().Get("RateLimit"))
			}
			require.EqualValues(t, 100, hook.n.Load(), "every refusal is observable")
			require.Zero(t, onError.Load(), "a full table is a decision, not a limiter error")

			for i := range 50 {
				w := serve(h, established)
				want := http.StatusOK
				if i >= 9 {
					want = http.StatusTooManyRequests
				}
				require.Equal(t, want, w.Code, "request %d of the established client: its own limit decides", i)
				require.Empty(t, w.Header().Get("X-RateLimit-Reason"))
			}
			require.EqualValues(t, 10, next.n.Load(), "only the established client's 10 were served")
		})
	}
}

func TestMiddlewareFullTableUsesOnDeny(t *testing.T) {
	var denied atomic.Int64
	h, _ := newHandler(t, fullTable(t), func(r *http.Request) string { return r.Header.Get("X-User") },
		WithOnDeny(func(w http.ResponseWriter, _ *http.Request, d Decision) {
			require.False(t, d.Allowed)
			require.Equal(t, "too-many-keys", w.Header().Get("X-RateLimit-Reason"), "set before WithOnDeny runs")
			denied.Add(1)
			w.WriteHeader(http.StatusTeapot)
		}))
	w := serve(h, "192.0.2.1:1", func(r *http.Request) { r.Header.Set("X-User", "new") })
	require.Equal(t, http.StatusTeapot, w.Code)
	require.EqualValues(t, 1, denied.Load())
}

func TestOnTooManyKeysNil(t *testing.T) {
	_, err := NewMiddleware(fullTable(t), nil, WithOnTooManyKeys(nil))
	require.ErrorIs(t, err, ErrInvalidConfig)
}
