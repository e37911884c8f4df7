package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// member is one "process" of a fleet: a breaker on a Redis client of its own.
type member struct {
	*Breaker
	faults *redistest.Faults
	hooks  *hookLog
}

// newFleet makes n breakers sharing cfg.Name ("dep" by default), each on
// its own client and store, scripts timed by clk.
func newFleet(t *testing.T, tg *redistest.Target, n int, clk *fakeClock, cfg Config, opts ...StoreOption) []member {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "dep"
	}
	cfg.Clock = clk.Now
	ms := make([]member, n)
	for i := range ms {
		var c redis.UniversalClient
		var f *redistest.Faults
		if i == 0 {
			c, f = tg.Client, tg.Faults
		} else {
			c, f = tg.NewClient()
		}
		st, err := NewRedisStore(c, append([]StoreOption{WithPrefix(tg.Prefix)}, opts...)...)
		require.NoError(t, err)
		st.testClock = clk.Now
		t.Cleanup(func() { _ = st.Close() })
		h := &hookLog{}
		c2 := cfg
		c2.Store, c2.OnStateChange = st, h.hook
		b, err := New(c2)
		require.NoError(t, err)
		waitSubscribed(t, st)
		ms[i] = member{Breaker: b, faults: f, hooks: h}
	}
	return ms
}

// waitSubscribed waits until st listens to pushes (if it does).
func waitSubscribed(t *testing.T, st *RedisStore) {
	t.Helper()
	st.mu.Lock()
	ready := st.ready
	st.mu.Unlock()
	if ready == nil {
		return
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("store never subscribed")
	}
}

func eventuallyState(t *testing.T, b *Breaker, want State) {
	t.Helper()
	require.Eventually(t, func() bool { return b.State() == want }, 5*time.Second, 2*time.Millisecond,
		"breaker never reached %s", want)
}

func TestFleetTripIsPushed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 3, clk, Config{OpenTimeout: 10 * time.Second})
		a, b, c := f[0], f[1], f[2]
		for _, m := range f {
			mustRun(t, m.Breaker, ok)
		}
		for range 5 {
			mustRun(t, a.Breaker, fail)
		}
		require.Equal(t, Open, a.State())
		eventuallyState(t, b.Breaker, Open)
		eventuallyState(t, c.Breaker, Open)
		clk.Advance(4 * time.Second)
		err := mustReject(t, b.Breaker, ErrOpen)
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, 6*time.Second, oe.RetryAfter(), "the open time is the fleet's")
		require.Equal(t, []string{"dep:closed->open"}, b.hooks.get())

		// One probe, from any member, closes the circuit for everyone.
		clk.Advance(6 * time.Second)
		mustRun(t, c.Breaker, ok)
		require.Equal(t, Closed, c.State())
		eventuallyState(t, a.Breaker, Closed)
		eventuallyState(t, b.Breaker, Closed)
		require.Equal(t, []string{"dep:closed->open", "dep:open->half-open", "dep:half-open->closed"}, c.hooks.get())
	})
}

func TestFleetStrictSync(t *testing.T) {
	// Without pushes and with a sync interval of 0, every call reads the
	// shared state first: the next call after a trip anywhere is refused.
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 2}, WithPubSub(false), WithSyncInterval(0))
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		mustRun(t, a.Breaker, fail)
		mustRun(t, a.Breaker, fail)
		mustReject(t, b.Breaker, ErrOpen)
	})
}

func TestFleetPeriodicSync(t *testing.T) {
	// Without pushes, a breaker learns of a trip on its first call after
	// the sync interval.
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1}, WithPubSub(false), WithSyncInterval(time.Second))
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		mustRun(t, a.Breaker, fail)
		clk.Advance(time.Second - time.Millisecond)
		mustRun(t, b.Breaker, ok) // not due yet: runs on what it knows
		require.Equal(t, Closed, b.State())
		clk.Advance(time.Millisecond)
		mustReject(t, b.Breaker, ErrOpen)
	})
}

func TestFleetProbeQuotaIsShared(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 2})
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		mustRun(t, a.Breaker, fail)
		eventuallyState(t, b.Breaker, Open)
		clk.Advance(time.Second)

		relpa, pa := goCall(t, a.Breaker) // probe 1, from a: no lock is held while it runs
		relpb, pb := goCall(t, b.Breaker) // probe 2, from b
		mustReject(t, a.Breaker, ErrTooManyCalls)
		mustReject(t, b.Breaker, ErrTooManyCalls)
		relpa <- nil
		require.NoError(t, recv(t, pa))
		mustReject(t, b.Breaker, ErrTooManyCalls)
		relpb <- nil
		require.NoError(t, recv(t, pb))
		require.Equal(t, Closed, b.State())
		eventuallyState(t, a.Breaker, Closed)
	})
}

func TestFleetProbeFailureReopensEveryone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second})
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		mustRun(t, a.Breaker, fail)
		eventuallyState(t, b.Breaker, Open)
		clk.Advance(time.Second)
		mustRun(t, b.Breaker, fail) // b's probe fails
		require.Equal(t, Open, b.State())
		eventuallyState(t, a.Breaker, Open)
		require.Eventually(t, func() bool { return len(a.hooks.get()) == 3 }, 5*time.Second, 2*time.Millisecond)
		require.Equal(t, []string{"dep:closed->open", "dep:open->half-open", "dep:half-open->open"}, a.hooks.get())
		err := mustReject(t, a.Breaker, ErrOpen)
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, time.Second, oe.RetryAfter())
	})
}

func TestFleetLostProbe(t *testing.T) {
	// A process takes the only probe slot and dies before reporting: after
	// OpenTimeout without news the fleet lets another probe through.
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second})
		a, dead := f[0], f[1]
		mustRun(t, a.Breaker, fail)
		eventuallyState(t, dead.Breaker, Open)
		clk.Advance(time.Second)
		relprobe, probe := goCall(t, dead.Breaker)
		dead.faults.Cut() // it can no longer report
		mustReject(t, a.Breaker, ErrTooManyCalls)
		clk.Advance(time.Second - time.Millisecond)
		mustReject(t, a.Breaker, ErrTooManyCalls)
		clk.Advance(time.Millisecond)
		mustRun(t, a.Breaker, ok)
		require.Equal(t, Closed, a.State())
		relprobe <- nil
		require.NoError(t, recv(t, probe))
	})
}

func TestRedisCutAndHeal(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 3, OpenTimeout: 10 * time.Second})
		a, b := f[0], f[1]
		mustRun(t, a.Breaker, ok)
		mustRun(t, b.Breaker, ok)

		b.faults.Cut()
		// b keeps working on its own: calls run, failures trip it locally.
		for range 3 {
			mustRun(t, b.Breaker, fail)
		}
		require.Equal(t, Open, b.State())
		m := b.Metrics()
		require.True(t, m.Detached)
		require.Equal(t, uint64(1), m.StoreErrors, "one failed report; then it stops trying until the retry interval")
		mustReject(t, b.Breaker, ErrOpen)
		require.Equal(t, Closed, a.State(), "b's local trip did not reach the fleet")
		mustRun(t, a.Breaker, ok)

		clk.Advance(10 * time.Second) // b probes locally and closes
		mustRun(t, b.Breaker, ok)
		require.Equal(t, Closed, b.State())

		// Meanwhile the fleet trips; b, cut off, does not hear of it.
		for range 3 {
			mustRun(t, a.Breaker, fail)
		}
		require.Equal(t, Open, a.State())
		mustRun(t, b.Breaker, ok)

		b.faults.Heal()
		clk.Advance(time.Second) // b's retry interval
		mustReject(t, b.Breaker, ErrOpen)
		require.False(t, b.Metrics().Detached)
		var oe *OpenError
		require.ErrorAs(t, b.Execute(context.Background(), ok), &oe)
		require.Equal(t, 9*time.Second, oe.RetryAfter(), "b adopted the fleet's open period")
	})
}

func TestRedisHangIsBounded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{FailureThreshold: 2}, WithTimeout(30*time.Millisecond))
		a, b := f[0], f[1]
		mustRun(t, b.Breaker, ok)
		b.faults.Hang()
		clk.Advance(time.Second) // a sync is due: it hangs, and times out
		for range 20 {
			mustRun(t, b.Breaker, ok)
		}
		m := b.Metrics()
		require.True(t, m.Detached)
		require.Equal(t, uint64(1), m.StoreErrors, "only one call waited for the hung store")
		mustRun(t, b.Breaker, fail)
		mustRun(t, b.Breaker, fail)
		require.Equal(t, Open, b.State())
		require.Equal(t, uint64(1), b.Metrics().StoreErrors, "detached: the trip is not reported")
		mustRun(t, a.Breaker, ok)
		require.Equal(t, Closed, a.State())

		b.faults.Heal()
		clk.Advance(time.Second)
		mustRun(t, b.Breaker, ok) // re-joined: the fleet is closed
		require.Equal(t, Closed, b.State())
		require.False(t, b.Metrics().Detached)
	})
}

func TestRedisServerTime(t *testing.T) {
	// Without a test clock the scripts use the server's TIME; on miniredis
	// that clock moves with tg.Advance.
	tg := redistest.New(t, redistest.Mini)
	clk := clocktest.NewAt(tg.Now())
	advance := func(d time.Duration) { clk.Advance(d); tg.Advance(d) }
	st, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
	require.NoError(t, err)
	defer st.Close()
	b, err := New(Config{Name: "dep", Store: st, Clock: clk.Now, FailureThreshold: 1, OpenTimeout: 5 * time.Second})
	require.NoError(t, err)
	mustRun(t, b, fail)
	advance(2 * time.Second)
	var oe *OpenError
	require.ErrorAs(t, b.Execute(context.Background(), ok), &oe)
	require.Equal(t, 3*time.Second, oe.RetryAfter())
	advance(3 * time.Second)
	mustRun(t, b, ok)
	require.Equal(t, Closed, b.State())

	ttl := tg.Client.PTTL(context.Background(), tg.Prefix+"{dep}").Val()
	require.InDelta(t, float64(24*time.Hour+5*time.Second), float64(ttl), float64(time.Second))
}

func TestRedisKeyExpiryRestartsClosed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 1, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second})
		a := f[0]
		mustRun(t, a.Breaker, fail)
		require.NoError(t, tg.Client.Del(context.Background(), tg.Prefix+"{dep}").Err())
		clk.Advance(time.Second)
		mustRun(t, a.Breaker, fail) // the store says closed: a normal call
		require.Equal(t, Open, a.State(), "and its failure trips a new period")
		n, err := tg.Client.Exists(context.Background(), tg.Prefix+"{dep}").Result()
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

func TestFleetConcurrentCalls(t *testing.T) {
	// Closed-state calls of a fleet run in parallel, with no shared lock.
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		f := newFleet(t, tg, 2, clk, Config{})
		var rels []chan<- error
		var res []<-chan error
		for _, m := range f {
			for range 2 { // all four calls are in fn at once
				rel, r := goCall(t, m.Breaker)
				rels, res = append(rels, rel), append(res, r)
			}
		}
		for i := range res {
			rels[i] <- nil
			require.NoError(t, recv(t, res[i]))
		}
	})
}

func TestRedisStoreConfig(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	bad := map[string][]StoreOption{
		"empty prefix":      {WithPrefix("")},
		"zero timeout":      {WithTimeout(0)},
		"negative interval": {WithSyncInterval(-time.Second)},
		"nil option":        {nil},
	}
	for name, opts := range bad {
		_, err := NewRedisStore(tg.Client, opts...)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	_, err := NewRedisStore(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)

	st, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
	require.NoError(t, err)
	_, err = New(Config{Store: st})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "Name is required")
	require.NoError(t, st.Close())
	require.NoError(t, st.Close())
	_, err = New(Config{Name: "x", Store: st})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestRedisCanceledContext(t *testing.T) {
	// A call whose ctx ends while the store is asked for a probe slot
	// returns ctx's error without running fn, and does not detach.
	tg := redistest.New(t, redistest.Mini)
	clk := newFakeClock()
	f := newFleet(t, tg, 1, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second})
	mustRun(t, f[0].Breaker, fail)
	clk.Advance(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := f[0].Execute(ctx, func(context.Context) error { ran = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran)
	require.False(t, f[0].Metrics().Detached)
}

func TestParsePush(t *testing.T) {
	name, sh, ok := parsePush("2 1700000000000001 5000 svc a")
	require.True(t, ok)
	require.Equal(t, "svc a", name)
	require.Equal(t, shared{state: Open, epoch: 1700000000000001, remaining: int64(5 * time.Millisecond)}, sh)
	for _, bad := range []string{"", "2 1", "2 1 1", "3 1 1 x", "a 1 1 x", "2 1 1x", "2  1 1 x", "-1 1 1 x"} {
		_, _, ok := parsePush(bad)
		require.False(t, ok, bad)
	}
}
