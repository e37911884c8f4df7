package breaker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// Every member of a fleet reports half-open once the shared open period is
// over, with no call, and each member's hooks see every transition once:
// the fleet's stale news of the open period does not flip it back.
func TestFleetHalfOpenIsReportedWithoutACall(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second}, WithTimeout(5*time.Second))
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		mustRun(t, a.Breaker, fail)
		eventuallyState(t, b.Breaker, Open)
		clk.Advance(time.Second - time.Millisecond)
		require.Equal(t, Open, b.State())
		clk.Advance(time.Millisecond)
		for _, m := range f {
			require.Equal(t, HalfOpen, m.State())
			require.Equal(t, HalfOpen, m.Metrics().State)
		}
		b.link.refresh(t.Context(), b.Breaker) // the store still says open: stale, not a step back
		require.Equal(t, HalfOpen, b.State())

		mustRun(t, a.Breaker, ok) // the fleet's probe closes it for everyone
		eventuallyState(t, b.Breaker, Closed)
		want := []string{"dep:closed->open", "dep:open->half-open", "dep:half-open->closed"}
		require.Equal(t, want, a.hooks.get())
		// b adopted the close from the fleet's news: its hooks run just
		// after the state changed, outside the lock, on the listener.
		require.Eventually(t, func() bool { return len(b.hooks.get()) == len(want) }, 5*time.Second, 2*time.Millisecond)
		require.Equal(t, want, b.hooks.get())
	})
}

// With every call re-reading the store (no pushes), the first call after an
// observed half-open is the probe: the re-read open period does not undo it.
// (A long WithTimeout: a loaded machine's slow answer must not detach it.)
func TestFleetStrictSyncHalfOpen(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second},
			WithPubSub(false), WithSyncInterval(0), WithTimeout(5*time.Second))
		a, b := f[0], f[1]
		mustRun(t, a.Breaker, fail)
		mustReject(t, b.Breaker, ErrOpen)
		clk.Advance(time.Second)
		require.Equal(t, HalfOpen, b.State())
		rel, res := goCall(t, b.Breaker) // the probe
		mustReject(t, a.Breaker, ErrTooManyCalls)
		rel <- nil
		require.NoError(t, recv(t, res))
		require.Equal(t, Closed, b.State())
		require.Equal(t, []string{"dep:closed->open", "dep:open->half-open", "dep:half-open->closed"}, b.hooks.get())
	})
}

// adopt's rules for a breaker that observed half-open, fed by hand: stale
// news of its open period and a newer open period that is over too leave
// it half-open; a newer open period with time left re-opens it.
func TestAdoptAfterObservedHalfOpen(t *testing.T) {
	clk := newFakeClock()
	h := &hookLog{}
	b := newMemory(t, Config{Name: "dep", Clock: clk.Now, OpenTimeout: time.Second, OnStateChange: h.hook})
	b.link = newLink(nil, int64(time.Second), int64(time.Second)) // adopt only; no remote is called

	b.adopt(shared{state: Open, epoch: 5, remaining: int64(time.Second)}, b.nowNS())
	clk.Advance(time.Second)
	require.Equal(t, HalfOpen, b.State())
	b.adopt(shared{state: Open, epoch: 5, remaining: int64(time.Second)}, b.nowNS()) // a late push
	require.Equal(t, HalfOpen, b.State())
	b.adopt(shared{state: Open, epoch: 6, remaining: 0}, b.nowNS())
	require.Equal(t, HalfOpen, b.State())
	require.Equal(t, int64(6), b.link.epoch, "the newer period is adopted")
	require.Equal(t, []string{"dep:closed->open", "dep:open->half-open"}, h.get())

	b.adopt(shared{state: Open, epoch: 7, remaining: int64(2 * time.Second)}, b.nowNS())
	require.Equal(t, Open, b.State())
	clk.Advance(2 * time.Second)
	require.Equal(t, HalfOpen, b.State())
	require.Equal(t, []string{"dep:closed->open", "dep:open->half-open", "dep:half-open->open", "dep:open->half-open"}, h.get())
}
