package breaker

import (
	"cmp"
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
	return newFleetOn(t, tg, fleetSetup{}, n, clk, cfg, opts...)
}

// fleetSetup says how newFleetOn builds its members' clients and stores.
type fleetSetup struct {
	clientOpts []redistest.ClientOption // of the members after the first (which uses tg.Client)
	health     time.Duration            // of the stores' listeners (0: 50ms)
}

// newFleetOn is newFleet as setup says.
func newFleetOn(t *testing.T, tg *redistest.Target, setup fleetSetup, n int, clk *fakeClock, cfg Config, opts ...StoreOption) []member {
	t.Helper()
	ms := make([]member, n)
	for i := range ms {
		c, f := tg.Client, tg.Faults
		if i > 0 {
			c, f = tg.NewClient(setup.clientOpts...)
		}
		ms[i] = newMember(t, c, f, clk, setup.health, cfg, append([]StoreOption{WithPrefix(tg.Prefix)}, opts...)...)
	}
	return ms
}

// newMember makes one breaker of a fleet on client c, with a store of its
// own whose scripts are timed by clk and whose listener pings a silent
// subscription after health (0: 50ms, so a hung one is replaced within
// about 100ms).
func newMember(t *testing.T, c redis.UniversalClient, f *redistest.Faults, clk *fakeClock, health time.Duration, cfg Config, opts ...StoreOption) member {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "dep"
	}
	cfg.Clock = clk.Now
	st, err := NewRedisStore(c, opts...)
	require.NoError(t, err)
	st.testClock = clk.Now
	st.health = cmp.Or(health, 50*time.Millisecond)
	t.Cleanup(func() { _ = st.Close() })
	h := &hookLog{}
	cfg.Store, cfg.OnStateChange = st, h.hook
	b, err := New(cfg)
	require.NoError(t, err)
	waitSubscribed(t, st)
	return member{Breaker: b, faults: f, hooks: h}
}

// waitSubscribed waits until st listens to pushes (if it does).
func waitSubscribed(t *testing.T, st *RedisStore) {
	t.Helper()
	st.mu.Lock()
	l := st.listener
	st.mu.Unlock()
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, l.Ready(ctx), "store never subscribed")
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

// timedRun asserts that b runs fn and that Execute returns within bound
// (+ redistest.Slack); it returns Execute's error.
func timedRun(t *testing.T, b *Breaker, fn func(context.Context) error, bound time.Duration) error {
	t.Helper()
	ran := false
	start := time.Now()
	err := b.Execute(context.Background(), func(ctx context.Context) error {
		ran = true
		return fn(ctx)
	})
	elapsed, late := redistest.Late(start, bound)
	require.True(t, ran, "fn did not run; Execute returned %v", err)
	require.False(t, late, "Execute took %v, bound %v (+%v)", elapsed, bound, redistest.Slack)
	return err
}

// TestRedisHangIsBounded: a store that stops answering costs each of its
// four operations (re-read, trip report, probe slot, probe outcome) at
// most WithTimeout, on a client with or without ContextTimeoutEnabled
// (issue 12, defect 3: the default client waited for its read timeout),
// and only once per retry interval: the breaker detaches and decides alone.
func TestRedisHangIsBounded(t *testing.T) {
	const timeout = 100 * time.Millisecond
	const limit = timeout
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for kind, opts := range redistest.ClientKinds() {
			t.Run(kind, func(t *testing.T) {
				clk := newFakeClock()
				// An hour between re-reads, so that each phase below reaches
				// the operation it means to hang; the listener's pings are
				// as rare, so that they cannot change that.
				f := newFleetOn(t, tg, fleetSetup{clientOpts: opts, health: time.Hour}, 2, clk,
					Config{FailureThreshold: 2, OpenTimeout: 10 * time.Second}, WithTimeout(timeout), WithSyncInterval(time.Hour))
				a, b := f[0], f[1]
				mustRun(t, b.Breaker, ok)
				errorsSoFar := func() uint64 { return b.Metrics().StoreErrors }
				rejoin := func() {
					t.Helper()
					b.faults.Heal()
					deadline := time.Now().Add(5 * time.Second)
					for b.Metrics().Detached { // a loaded machine may time out a healthy call too
						require.True(t, time.Now().Before(deadline), "not re-joined within 5s")
						clk.Advance(time.Hour)
						timedRun(t, b.Breaker, ok, limit)
					}
				}

				// The re-read.
				b.faults.Hang()
				clk.Advance(time.Hour)
				timedRun(t, b.Breaker, ok, limit)
				m := b.Metrics()
				require.True(t, m.Detached)
				require.Equal(t, uint64(1), m.StoreErrors)
				for range 20 {
					timedRun(t, b.Breaker, ok, limit)
				}
				require.Equal(t, uint64(1), errorsSoFar(), "only one call waited for the hung store")
				timedRun(t, b.Breaker, fail, limit)
				timedRun(t, b.Breaker, fail, limit)
				require.Equal(t, Open, b.State(), "detached, it trips alone")
				require.Equal(t, uint64(1), errorsSoFar(), "detached: the trip is not reported")
				mustRun(t, a.Breaker, ok)
				require.Equal(t, Closed, a.State())
				rejoin()
				require.Equal(t, Closed, b.State(), "re-joined: the fleet is closed")

				// The trip report.
				b.faults.Hang()
				timedRun(t, b.Breaker, fail, limit)
				timedRun(t, b.Breaker, fail, limit)
				require.Equal(t, Open, b.State())
				require.True(t, b.Metrics().Detached)
				require.Equal(t, uint64(2), errorsSoFar())
				rejoin()

				// The probe slot: the fleet is open, its open time is over.
				mustRun(t, a.Breaker, fail)
				mustRun(t, a.Breaker, fail)
				eventuallyState(t, b.Breaker, Open)
				b.faults.Hang()
				clk.Advance(10 * time.Second)
				timedRun(t, b.Breaker, ok, limit) // a local probe after the bounded wait
				require.Equal(t, Closed, b.State())
				require.Equal(t, uint64(3), errorsSoFar())
				rejoin()
				eventuallyState(t, a.Breaker, Closed)

				// The probe outcome: the slot is granted, then Redis hangs;
				// what is timed is the report, from fn's return.
				mustRun(t, a.Breaker, fail)
				mustRun(t, a.Breaker, fail)
				eventuallyState(t, b.Breaker, Open)
				clk.Advance(10 * time.Second)
				var probed time.Time
				mustRun(t, b.Breaker, func(context.Context) error { b.faults.Hang(); probed = time.Now(); return nil })
				elapsed, late := redistest.Late(probed, limit)
				require.False(t, late, "the report of the probe's outcome took %v", elapsed)
				require.Equal(t, Closed, b.State(), "the outcome counted locally")
				require.Equal(t, uint64(4), errorsSoFar())
				rejoin()
				eventuallyState(t, a.Breaker, Closed)
			})
		}
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
		"brace in prefix":   {WithPrefix("svc{a}:")},
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
	for _, name := range []string{"a}b", "{x}", "a{"} { // a brace would make the Name's hash tag another's
		_, err = New(Config{Name: name, Store: st})
		require.ErrorIs(t, err, ErrInvalidConfig, name)
	}
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
