package otel_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/saga"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	name     = func(n string) attribute.KeyValue { return potel.AttrName.String(n) }
	outcome  = func(o string) attribute.KeyValue { return potel.AttrOutcome.String(o) }
	errBoom  = errors.New("boom")
	bg       = context.Background()
	tenantUS = attribute.String("tenant.region", "us")
)

func TestLimiterMetrics(t *testing.T) {
	h := newMeter(t)
	clk := newClock()
	lim, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerMinute(3), ratelimit.WithClock(clk.now))
	require.NoError(t, err)
	reg, err := potel.InstrumentLimiter(h.meter, "api", lim, tenantUS)
	require.NoError(t, err)

	for range 5 {
		_, err := lim.Allow(bg, "user-42")
		require.NoError(t, err)
	}
	_, err = lim.AllowN(bg, "user-7", 0) // a caller error
	require.Error(t, err)

	rm := h.collect()
	require.EqualValues(t, 3, intValue(t, rm, "patterns.ratelimit.decisions", name("api"), outcome("allowed"), tenantUS,
		potel.AttrAlgorithm.String("token-bucket")))
	require.EqualValues(t, 2, intValue(t, rm, "patterns.ratelimit.decisions", name("api"), outcome("denied")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.ratelimit.errors", name("api")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.ratelimit.fallbacks", name("api")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.ratelimit.keys", name("api")))
	noAttrValue(t, rm, "user-42")

	require.NoError(t, reg.Unregister())
	_, _ = lim.Allow(bg, "user-42")
	require.False(t, has(h.collect(), "patterns.ratelimit.decisions"), "points reported after Unregister")
}

func TestLimiterMetricsOfWrapper(t *testing.T) {
	h := newMeter(t)
	down := failing{}
	local, err := ratelimit.NewMemory(ratelimit.FixedWindow, ratelimit.PerSecond(10))
	require.NoError(t, err)
	fb := ratelimit.Fallback(down, local)
	_, err = potel.InstrumentLimiter(h.meter, "edge", fb.(ratelimit.StatsReporter))
	require.NoError(t, err)
	for range 4 {
		d, err := fb.Allow(bg, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	rm := h.collect()
	require.EqualValues(t, 4, intValue(t, rm, "patterns.ratelimit.decisions", name("edge"), outcome("allowed")))
	require.EqualValues(t, 4, intValue(t, rm, "patterns.ratelimit.fallbacks", name("edge")))
}

// failing is a limiter whose backend is down.
type failing struct{}

func (failing) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	return failing{}.AllowN(ctx, key, 1)
}

func (failing) AllowN(context.Context, string, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errBoom
}

func TestInstrumentRefusesBadInput(t *testing.T) {
	h := newMeter(t)
	var nilMemory *ratelimit.Memory
	_, err := potel.InstrumentLimiter(h.meter, "api", nilMemory)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	lim, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(1))
	require.NoError(t, err)
	_, err = potel.InstrumentLimiter(h.meter, "", lim)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.InstrumentLimiter(nil, "api", lim)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.InstrumentBreaker(h.meter, nil)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.InstrumentRunner(h.meter, "p", nil)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.InstrumentLoader[int](nil, nil, "users", func(context.Context, string) (int, error) { return 0, nil })
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.SagaObserver(h.meter, "")
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
}

func TestBreakerMetrics(t *testing.T) {
	h := newMeter(t)
	clk := newClock()
	b, err := breaker.New(breaker.Config{Name: "payments", FailureThreshold: 2, OpenTimeout: time.Minute, Clock: clk.now})
	require.NoError(t, err)
	_, err = potel.InstrumentBreaker(h.meter, b)
	require.NoError(t, err)

	rm := h.collect()
	require.EqualValues(t, 1, intValue(t, rm, "patterns.breaker.state", name("payments"), potel.AttrBreakerState.String("closed")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.breaker.state", name("payments"), potel.AttrBreakerState.String("open")))

	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errBoom }
	require.NoError(t, b.Execute(bg, ok))
	require.ErrorIs(t, b.Execute(bg, fail), errBoom)
	require.ErrorIs(t, b.Execute(bg, fail), errBoom) // opens
	require.ErrorIs(t, b.Execute(bg, ok), breaker.ErrOpen)
	require.ErrorIs(t, b.Execute(bg, ok), breaker.ErrOpen)
	require.ErrorIs(t, b.Execute(context.Background(), func(context.Context) error { return nil }), breaker.ErrOpen)

	rm = h.collect()
	require.EqualValues(t, 0, intValue(t, rm, "patterns.breaker.state", name("payments"), potel.AttrBreakerState.String("closed")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.breaker.state", name("payments"), potel.AttrBreakerState.String("half-open")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.breaker.state", name("payments"), potel.AttrBreakerState.String("open")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.breaker.calls", outcome("success")))
	require.EqualValues(t, 2, intValue(t, rm, "patterns.breaker.calls", outcome("failure")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.breaker.calls", outcome("ignored")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.breaker.rejections", name("payments")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.breaker.transitions", name("payments")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.breaker.store.detached", name("payments")))

	clk.advance(time.Minute) // half-open: a probe closes it
	require.NoError(t, b.Execute(bg, ok))
	rm = h.collect()
	require.EqualValues(t, 1, intValue(t, rm, "patterns.breaker.state", potel.AttrBreakerState.String("closed")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.breaker.transitions"))
}

func TestCacheMetrics(t *testing.T) {
	h := newMeter(t)
	lru, err := cache.NewLRU[string](1)
	require.NoError(t, err)
	var loads int
	loader := func(_ context.Context, key string) (string, error) {
		loads++
		if key == "gone" {
			return "", cache.ErrNotFound
		}
		if key == "bad" {
			return "", errBoom
		}
		return "v-" + key, nil
	}
	load, err := potel.InstrumentLoader(h.meter, nil, "users", loader)
	require.NoError(t, err)
	aside, err := cache.NewAside(lru, load, cache.WithoutNegativeCaching())
	require.NoError(t, err)
	t.Cleanup(func() { _ = aside.Close() })
	_, err = potel.InstrumentCache(h.meter, "users", aside)
	require.NoError(t, err)
	_, err = potel.InstrumentCache(h.meter, "users-lru", lru)
	require.NoError(t, err)

	for _, k := range []string{"a", "a", "b", "a", "gone", "bad"} {
		_, _ = aside.Get(bg, k)
	}
	// a: miss+load, hit; b: miss+load (evicts a); a: miss+load (evicts b);
	// gone: miss, not found; bad: miss, load error.
	rm := h.collect()
	require.EqualValues(t, 1, intValue(t, rm, "patterns.cache.lookups", name("users"), outcome("hit")))
	require.EqualValues(t, 5, intValue(t, rm, "patterns.cache.lookups", name("users"), outcome("miss")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.cache.loads", name("users"), outcome("success")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.cache.loads", name("users"), outcome("not_found")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.cache.loads", name("users"), outcome("error")))
	require.EqualValues(t, 2, intValue(t, rm, "patterns.cache.evictions", name("users-lru")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.cache.coalesced_loads", name("users")))
	require.EqualValues(t, 3, histCount(t, rm, "patterns.cache.load.duration", name("users"), outcome("success")))
	require.EqualValues(t, 1, histCount(t, rm, "patterns.cache.load.duration", name("users"), outcome("not_found")))
	require.EqualValues(t, 1, histCount(t, rm, "patterns.cache.load.duration", name("users"), outcome("error")))
	require.Equal(t, 5, loads)
	noAttrValue(t, rm, "a")
}

type order struct{ Reserved, Charged bool }

func TestSagaMetrics(t *testing.T) {
	h := newMeter(t)
	steps := []saga.Step[order]{
		{Name: "reserve",
			Action:     func(_ context.Context, o *order) error { o.Reserved = true; return nil },
			Compensate: func(_ context.Context, o *order) error { o.Reserved = false; return nil }},
		{Name: "charge", Action: func(ctx context.Context, o *order) error {
			if info, _ := saga.Info(ctx); info.ID == "o-2" {
				return saga.Permanent(errBoom)
			}
			o.Charged = true
			return nil
		}},
	}
	obs, err := potel.SagaObserver(h.meter, "checkout")
	require.NoError(t, err)
	s, err := saga.New("checkout", steps, saga.WithObserver(obs))
	require.NoError(t, err)
	_, err = potel.InstrumentSaga(h.meter, "checkout", s)
	require.NoError(t, err)

	res, err := s.Execute(bg, "o-1", order{})
	require.NoError(t, err)
	require.Equal(t, saga.Completed, res.Status)
	res, err = s.Execute(bg, "o-2", order{})
	require.Error(t, err)
	require.Equal(t, saga.Compensated, res.Status)
	_, err = s.Execute(bg, "o-1", order{}) // replayed
	require.NoError(t, err)

	rm := h.collect()
	require.EqualValues(t, 2, intValue(t, rm, "patterns.saga.started", name("checkout")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.saga.finished", potel.AttrSagaStatus.String("completed")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.saga.finished", potel.AttrSagaStatus.String("compensated")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.saga.finished", potel.AttrSagaStatus.String("failed")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.saga.replayed", name("checkout")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.saga.recovered", name("checkout")))
	step := func(s, phase, out string) []attribute.KeyValue {
		return []attribute.KeyValue{name("checkout"), potel.AttrSagaStep.String(s), potel.AttrSagaPhase.String(phase), outcome(out)}
	}
	require.EqualValues(t, 2, histCount(t, rm, "patterns.saga.step.duration", step("reserve", "action", "success")...))
	require.EqualValues(t, 1, histCount(t, rm, "patterns.saga.step.duration", step("charge", "action", "success")...))
	require.EqualValues(t, 1, histCount(t, rm, "patterns.saga.step.duration", step("charge", "action", "failure")...))
	require.EqualValues(t, 1, histCount(t, rm, "patterns.saga.step.duration", step("reserve", "compensation", "success")...))
	noAttrValue(t, rm, "o-1")
	noAttrValue(t, rm, "o-2")
}

func TestCQRSMetrics(t *testing.T) {
	h := newMeter(t)
	store := cqrs.NewMemoryStore()
	var applied int
	proj, err := cqrs.NewFuncProjection("balances", cqrs.NewMemoryCheckpointStore(), func(context.Context, cqrs.Event) error {
		applied++
		return nil
	})
	require.NoError(t, err)
	runner, err := cqrs.NewRunner(store, proj)
	require.NoError(t, err)
	_, err = potel.InstrumentEventStore(h.meter, "ledger", store)
	require.NoError(t, err)
	_, err = potel.InstrumentRunner(h.meter, "balances", runner)
	require.NoError(t, err)

	ev := cqrs.MustEvent("deposited", map[string]int{"amount": 5})
	_, err = store.Append(bg, "acct-1", cqrs.NoStream, ev, ev)
	require.NoError(t, err)
	_, err = store.Append(bg, "acct-1", cqrs.NoStream, ev) // stale: conflict
	require.ErrorIs(t, err, cqrs.ErrConflict)
	_, err = store.Append(bg, "acct-2", cqrs.NoStream, ev)
	require.NoError(t, err)

	rm := h.collect()
	require.EqualValues(t, 2, intValue(t, rm, "patterns.cqrs.appends", name("ledger"), outcome("success")))
	require.EqualValues(t, 1, intValue(t, rm, "patterns.cqrs.appends", name("ledger"), outcome("conflict")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.cqrs.appends", name("ledger"), outcome("error")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.cqrs.appended_events", name("ledger")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.cqrs.projection.lag", name("balances")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.cqrs.projection.position", name("balances")))

	pos, err := runner.CatchUp(bg)
	require.NoError(t, err)
	require.EqualValues(t, 3, pos)
	rm = h.collect()
	require.EqualValues(t, 0, intValue(t, rm, "patterns.cqrs.projection.lag", name("balances")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.cqrs.projection.position", name("balances")))
	require.EqualValues(t, 3, intValue(t, rm, "patterns.cqrs.projection.applied", name("balances")))
	require.Equal(t, 3, applied)
	noAttrValue(t, rm, "acct-1")
}

type balance struct{ Amount int }

func TestRepositoryMetrics(t *testing.T) {
	h := newMeter(t)
	store := cqrs.NewMemoryStore()
	repo, err := cqrs.NewRepository(store, func(s balance, e cqrs.Event) (balance, error) { return balance{s.Amount + 1}, nil })
	require.NoError(t, err)
	_, err = potel.InstrumentRepository(h.meter, "accounts", repo)
	require.NoError(t, err)
	for range 2 {
		_, err = repo.Execute(bg, "acct-1", func(balance) ([]cqrs.Event, error) {
			return []cqrs.Event{cqrs.MustEvent("deposited", 1)}, nil
		})
		require.NoError(t, err)
	}
	rm := h.collect()
	require.EqualValues(t, 2, intValue(t, rm, "patterns.cqrs.commands", name("accounts")))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.cqrs.conflicts", name("accounts"), outcome("returned")))
	noAttrValue(t, rm, "acct-1")
}
