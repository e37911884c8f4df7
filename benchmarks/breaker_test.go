package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/sysdesign/patterns/breaker"
)

// Circuit breakers side by side: ours (github.com/sysdesign/patterns/breaker)
// against sony/gobreaker/v2 and failsafe-go, each with its defaults
// (consecutive failures) and a function that succeeds at once, so the
// numbers are the breaker's own cost.

var errBreakerBench = errors.New("bench failure")

type breakerLib struct {
	name string
	// closed returns a call through a fresh breaker in the closed state,
	// open one through a breaker that has just opened (for an hour).
	closed, open func(b *testing.B) func() error
}

var breakerLibs = []breakerLib{
	{
		name: "patterns",
		closed: func(b *testing.B) func() error {
			br, err := breaker.New(breaker.Config{Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			fn := func(context.Context) error { return nil }
			return func() error { return br.Execute(ctx, fn) }
		},
		open: func(b *testing.B) func() error {
			br, err := breaker.New(breaker.Config{Name: "bench", FailureThreshold: 1, OpenTimeout: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			_ = br.Execute(ctx, func(context.Context) error { return errBreakerBench })
			fn := func(context.Context) error { return nil }
			return func() error { return br.Execute(ctx, fn) }
		},
	},
	{
		name: "gobreaker",
		closed: func(*testing.B) func() error {
			cb := gobreaker.NewCircuitBreaker[any](gobreaker.Settings{Name: "bench"})
			fn := func() (any, error) { return nil, nil }
			return func() error { _, err := cb.Execute(fn); return err }
		},
		open: func(*testing.B) func() error {
			cb := gobreaker.NewCircuitBreaker[any](gobreaker.Settings{Name: "bench", Timeout: time.Hour,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 }})
			_, _ = cb.Execute(func() (any, error) { return nil, errBreakerBench })
			fn := func() (any, error) { return nil, nil }
			return func() error { _, err := cb.Execute(fn); return err }
		},
	},
	{
		name: "failsafe-go",
		closed: func(*testing.B) func() error {
			cb := circuitbreaker.NewBuilder[any]().WithFailureThreshold(5).Build()
			exec := failsafe.With[any](cb)
			fn := func() error { return nil }
			return func() error { return exec.Run(fn) }
		},
		open: func(*testing.B) func() error {
			cb := circuitbreaker.NewBuilder[any]().WithFailureThreshold(1).WithDelay(time.Hour).Build()
			exec := failsafe.With[any](cb)
			_ = exec.Run(func() error { return errBreakerBench })
			fn := func() error { return nil }
			return func() error { return exec.Run(fn) }
		},
	},
}

// Execute in the closed state, one goroutine.
func BenchmarkBreakerClosed(b *testing.B) {
	for _, lib := range breakerLibs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			call := lib.closed(b)
			b.ReportAllocs()
			for b.Loop() {
				_ = call()
			}
		})
	}
}

// Execute in the closed state, GOMAXPROCS goroutines on one breaker.
func BenchmarkBreakerClosedParallel(b *testing.B) {
	for _, lib := range breakerLibs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			call := lib.closed(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = call()
				}
			})
		})
	}
}

// A call refused while open, GOMAXPROCS goroutines on one breaker.
func BenchmarkBreakerOpen(b *testing.B) {
	for _, lib := range breakerLibs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			call := lib.open(b)
			if call() == nil {
				b.Fatal("not open")
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = call()
				}
			})
		})
	}
}

// BenchmarkBreakerFleet: 4 goroutines in 2 breakers (each breaker on a
// Redis client of its own, as in two processes) share one circuit through
// Redis and make 1 ms calls. ms/call is the mean time a caller waits per
// call; 1 ms is the floor (time.Sleep(1ms) itself takes a little more, see
// lib=none). Ours runs closed-state calls without a round trip or a lock;
// gobreaker's DistributedCircuitBreaker holds a fleet-wide lock around
// every call. Needs PATTERNS_REDIS_ADDR (make bench-compare starts a server).
func BenchmarkBreakerFleet(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through make bench-compare, which starts a redis-server")
	}
	prefix := fmt.Sprintf("bench:breaker:%d:", time.Now().UnixNano())
	newClient := func(b *testing.B) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			b.Fatalf("redis at %s: %v", addr, err)
		}
		return c
	}
	work := func() error { time.Sleep(time.Millisecond); return nil }
	libs := []struct {
		name string
		// member returns the call of one fleet member.
		member func(b *testing.B, i int) func() error
	}{
		{"none", func(*testing.B, int) func() error { return work }},
		{"patterns-redis", func(b *testing.B, i int) func() error {
			st, err := breaker.NewRedisStore(newClient(b), breaker.WithPrefix(prefix))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			br, err := breaker.New(breaker.Config{Name: b.Name(), Store: st})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			fn := func(context.Context) error { return work() }
			return func() error { return br.Execute(ctx, fn) }
		}},
		{"gobreaker-distributed", func(b *testing.B, i int) func() error {
			store := &gobreakerRedisStore{c: newClient(b), prefix: prefix}
			cb, err := gobreaker.NewDistributedCircuitBreaker[any](store, gobreaker.Settings{Name: b.Name()})
			if err != nil {
				b.Fatal(err)
			}
			fn := func() (any, error) { return nil, work() }
			return func() error { _, err := cb.Execute(fn); return err }
		}},
	}
	for _, lib := range libs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			members := []func() error{lib.member(b, 0), lib.member(b, 1)}
			var waited atomic.Int64
			var calls, errs atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					call := members[g%2]
					for calls.Add(1) <= int64(b.N) {
						start := time.Now()
						if call() != nil {
							errs.Add(1)
						}
						waited.Add(int64(time.Since(start)))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if errs.Load() > 0 {
				b.Fatalf("%d of %d calls failed", errs.Load(), b.N)
			}
			b.ReportMetric(float64(waited.Load())/float64(b.N)/1e6, "ms/call")
		})
	}
}

// gobreakerRedisStore is a gobreaker.SharedDataStore on Redis: state in a
// string, and a lock taken with SET NX PX and retried every 100µs (as a
// redsync mutex would), so that waiting for the lock costs no more than
// the lock's holder takes.
type gobreakerRedisStore struct {
	c      *redis.Client
	prefix string
}

func (s *gobreakerRedisStore) Lock(name string) error {
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := s.c.SetNX(ctx, s.prefix+name, "1", 5*time.Second).Result()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("lock timeout")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (s *gobreakerRedisStore) Unlock(name string) error {
	return s.c.Del(context.Background(), s.prefix+name).Err()
}

func (s *gobreakerRedisStore) GetData(name string) ([]byte, error) {
	v, err := s.c.Get(context.Background(), s.prefix+name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

func (s *gobreakerRedisStore) SetData(name string, data []byte) error {
	return s.c.Set(context.Background(), s.prefix+name, data, time.Hour).Err()
}
