package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/saga"
)

// checkout is the saga's data: the order being placed.
type checkout struct {
	Order    int
	Reserved bool
}

// service places orders: a request is rate limited per user, prices the item
// through a cache, and publishes the order; a subscriber runs the checkout
// saga (reserve through a breaker-guarded inventory service, then charge)
// and records placed orders in an event store that a projection follows.
type service struct {
	tr      trace.Tracer
	limiter *ratelimit.Memory
	prices  *cache.Aside[int]
	bus     *potel.TracingBus
	saga    *saga.Saga[checkout]
	store   *cqrs.MemoryStore
	runner  *cqrs.Runner
	regs    []metric.Registration

	published, processed atomic.Int64
	mu                   sync.Mutex
	first                trace.TraceID
}

func newService(m metric.Meter, tr trace.Tracer) (*service, error) {
	s := &service{tr: tr}
	var err error
	if s.limiter, err = ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerMinute(3)); err != nil {
		return nil, err
	}
	brk, err := breaker.New(breaker.Config{Name: "inventory", FailureThreshold: 2, OpenTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	inventory, err := potel.TraceBreaker(tr, brk)
	if err != nil {
		return nil, err
	}
	lru, err := cache.NewLRU[int](100)
	if err != nil {
		return nil, err
	}
	load, err := potel.InstrumentLoader(m, tr, "prices", loadPrice)
	if err != nil {
		return nil, err
	}
	if s.prices, err = cache.NewAside(lru, load, cache.WithTTL(time.Minute)); err != nil {
		return nil, err
	}
	steps, err := potel.TraceSteps(tr, []saga.Step[checkout]{
		{Name: "reserve", Action: func(ctx context.Context, c *checkout) error {
			err := inventory.Execute(ctx, func(ctx context.Context) error { return reserve(ctx, c.Order) })
			c.Reserved = err == nil
			return err
		}, Compensate: func(_ context.Context, c *checkout) error { c.Reserved = false; return nil }},
		{Name: "charge", Action: func(_ context.Context, c *checkout) error {
			if c.Order%10 == 2 {
				return saga.Permanent(errors.New("payment declined"))
			}
			return nil
		}},
	})
	if err != nil {
		return nil, err
	}
	stepLatency, err := potel.SagaObserver(m, "checkout")
	if err != nil {
		return nil, err
	}
	if s.saga, err = saga.New("checkout", steps, saga.WithObserver(stepLatency), saga.WithMetadata(potel.SagaTraceMetadata)); err != nil {
		return nil, err
	}
	if s.bus, err = potel.NewTracingBus("orders", pubsub.NewMemory(), tr, m); err != nil {
		return nil, err
	}
	s.store = cqrs.NewMemoryStore()
	placed, err := cqrs.NewFuncProjection("placed-orders", cqrs.NewMemoryCheckpointStore(), func(context.Context, cqrs.Event) error { return nil })
	if err != nil {
		return nil, err
	}
	if s.runner, err = cqrs.NewRunner(s.store, placed); err != nil {
		return nil, err
	}
	if _, err := s.bus.Subscribe(context.Background(), "orders.*", s.handle, pubsub.WithGroup("checkout")); err != nil {
		return nil, err
	}

	for _, r := range []func() (metric.Registration, error){
		func() (metric.Registration, error) { return potel.InstrumentLimiter(m, "orders-per-user", s.limiter) },
		func() (metric.Registration, error) { return potel.InstrumentBreaker(m, brk) },
		func() (metric.Registration, error) { return potel.InstrumentCache(m, "prices", s.prices) },
		func() (metric.Registration, error) { return potel.InstrumentBus(m, "orders", s.bus) },
		func() (metric.Registration, error) { return potel.InstrumentSaga(m, "checkout", s.saga) },
		func() (metric.Registration, error) { return potel.InstrumentEventStore(m, "orders", s.store) },
		func() (metric.Registration, error) { return potel.InstrumentRunner(m, "placed-orders", s.runner) },
	} {
		reg, err := r()
		if err != nil {
			s.close()
			return nil, err
		}
		s.regs = append(s.regs, reg)
	}
	return s, nil
}

// loadPrice stands in for a database query.
func loadPrice(ctx context.Context, item string) (int, error) {
	select {
	case <-time.After(2 * time.Millisecond):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return 100 + len(item), nil
}

// reserve stands in for a call to an inventory service that fails for some
// orders.
func reserve(_ context.Context, order int) error {
	if o := order % 10; o == 4 || o == 5 {
		return errors.New("inventory: 503")
	}
	return nil
}

// order is one request: POST /orders by a user.
func (s *service) order(ctx context.Context, n int) {
	user := "user-" + strconv.Itoa(1+(n+1)%2)
	ctx, span := s.tr.Start(ctx, "POST /orders", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	span.SetAttributes(attribute.Int("order", n))
	if d, err := s.limiter.Allow(ctx, user); err != nil || !d.Allowed {
		span.SetAttributes(attribute.Bool("rate_limited", true))
		return
	}
	if _, err := s.prices.Get(ctx, "item-"+strconv.Itoa(n%3)); err != nil {
		return
	}
	if err := s.bus.Publish(ctx, "orders.created", []byte(strconv.Itoa(n))); err != nil {
		return
	}
	s.published.Add(1)
	s.mu.Lock()
	if !s.first.IsValid() {
		s.first = span.SpanContext().TraceID()
	}
	s.mu.Unlock()
}

// handle runs the checkout saga for a published order, and records it as
// placed when the saga completes.
func (s *service) handle(ctx context.Context, m *pubsub.Message) error {
	defer s.processed.Add(1)
	n, err := strconv.Atoi(string(m.Payload))
	if err != nil {
		return nil // malformed: nothing to retry
	}
	id := "order-" + strconv.Itoa(n)
	res, err := potel.ExecuteSaga(ctx, s.tr, s.saga, id, checkout{Order: n})
	if err != nil || res.Status != saga.Completed {
		return nil // compensated: the saga's own outcome, not a delivery failure
	}
	ev, err := cqrs.NewEvent("order-placed", map[string]int{"order": n})
	if err != nil {
		return err
	}
	_, err = s.store.Append(ctx, id, cqrs.NoStream, ev)
	if errors.Is(err, cqrs.ErrConflict) {
		return nil // a redelivery of a placed order
	}
	return err
}

// settle waits until every published order has been handled, then brings
// the projection up to date.
func (s *service) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for s.processed.Load() < s.published.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("orders not handled in time: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	_, err := s.runner.CatchUp(ctx)
	return err
}

// traffic is the background load of the server mode: one order a second.
func (s *service) traffic(ctx context.Context, n int) {
	s.order(ctx, n)
	_, _ = s.runner.CatchUp(ctx)
}

func (s *service) firstTrace() trace.TraceID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

func (s *service) close() {
	for _, r := range s.regs {
		_ = r.Unregister()
	}
	if s.bus != nil {
		_ = s.bus.Close()
	}
	if s.prices != nil {
		_ = s.prices.Close()
	}
}
