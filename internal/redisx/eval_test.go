package redisx

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

var echo = redis.NewScript(`return ARGV[1]`)

type countingOwner struct{ n atomic.Int32 }

func (o *countingOwner) Release() { o.n.Add(1) }

// Eval returns the script's reply, releases its owner once, and returns by
// the bound (not the client's read timeout) on a hung connection, on
// every target and client kind.
func TestEvalBoundedOnEveryClient(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(opts...)
				b := NewBound(c, 50*time.Millisecond)
				owner := &countingOwner{}
				got, err := b.Eval(context.Background(), c, echo, []string{tg.Key("k")}, []any{"hi"}, owner).Text()
				if err != nil || got != "hi" {
					t.Fatalf("healthy: %q, %v", got, err)
				}
				if owner.n.Load() != 1 {
					t.Fatalf("owner released %d times, want 1", owner.n.Load())
				}
				faults.Hang()
				defer faults.Heal()
				owner = &countingOwner{}
				probe := redistest.StartWakeProbe()
				start := time.Now()
				err = b.Eval(context.Background(), c, echo, []string{tg.Key("k")}, []any{"hi"}, owner).Err()
				elapsed := time.Since(start)
				worst, _ := probe.Stop()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want DeadlineExceeded", err)
				}
				// A loaded machine wakes the caller late: allow 3 times the
				// worst wake-up delay seen meanwhile (about 0 when quiet).
				if elapsed > 100*time.Millisecond+3*worst {
					t.Fatalf("took %v, bound 50ms (+50ms slack, +3 x %v wake-up delay)", elapsed, worst)
				}
				// The abandoned call still releases its owner once go-redis
				// gives up: the client's read timeout (3s), four times on
				// the Cluster, whose client sends a timed-out command again
				// as often as it would follow MOVED (MaxRedirects, 3).
				deadline := time.Now().Add(20 * time.Second)
				for owner.n.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if owner.n.Load() != 1 {
					t.Fatalf("abandoned call's owner released %d times, want 1", owner.n.Load())
				}
			})
		}
	})
}

// A caller's deadline sooner than the bound wins, and a bound of 0 still
// honours it (ratelimit's WithoutTimeout relies on this).
func TestEvalHonoursTheCallersDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			for _, timeout := range []time.Duration{0, time.Second} {
				t.Run(name, func(t *testing.T) {
					c, faults := tg.NewClient(opts...)
					b := NewBound(c, timeout)
					faults.Hang()
					defer faults.Heal()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
					defer cancel()
					start := time.Now()
					err := b.Eval(ctx, c, echo, []string{tg.Key("k")}, []any{"x"}, nil).Err()
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("err = %v, want DeadlineExceeded", err)
					}
					if elapsed := time.Since(start); elapsed > 80*time.Millisecond {
						t.Fatalf("took %v, caller's deadline 30ms (+50ms slack)", elapsed)
					}
				})
			}
		}
	})
}

func TestEvalCancelledContextRunsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	owner := &countingOwner{}
	err := Bound{}.Eval(ctx, nil, echo, nil, nil, owner).Err()
	if !errors.Is(err, context.Canceled) || owner.n.Load() != 1 {
		t.Fatalf("err = %v, released %d", err, owner.n.Load())
	}
}

// Many concurrent calls, some abandoned, some not: every reply goes to its
// own caller (pooled calls are never mixed up).
func TestEvalConcurrentRepliesStayWithTheirCallers(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, _ := tg.NewClient()
	b := NewBound(c, time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				want := string(rune('a'+g%26)) + time.Duration(i).String()
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%3)*time.Millisecond)
				got, err := b.Eval(ctx, c, echo, []string{"k"}, []any{want}, nil).Text()
				cancel()
				if err == nil && got != want {
					t.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// fakeScripter answers every EVALSHA at once with one preallocated reply,
// so that allocation counts show Eval's own cost and not a server's.
type fakeScripter struct {
	redis.Scripter
	reply *redis.Cmd
}

func (f fakeScripter) EvalSha(context.Context, string, []string, ...any) *redis.Cmd { return f.reply }

// On a client that ignores ctx deadlines (go-redis's default), a bounded
// Eval adds no allocation to what script.Run itself costs.
func TestEvalAddsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	f := fakeScripter{reply: redis.NewCmd(context.Background())}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, args := []string{"k"}, []any{"v"}
	plain := testing.AllocsPerRun(1000, func() { _ = echo.Run(ctx, f, keys, args...).Err() })
	b := Bound{timeout: time.Second}
	bounded := testing.AllocsPerRun(1000, func() { _ = b.Eval(ctx, f, echo, keys, args, nil).Err() })
	if bounded > plain {
		t.Fatalf("bounded Eval: %.1f allocs, plain Run: %.1f", bounded, plain)
	}
}

func BenchmarkEval(b *testing.B) {
	tg := redistest.New(b, redistest.Mini)
	c, _ := tg.NewClient()
	ctx := context.Background()
	keys, args := []string{"k"}, []any{"v"}
	b.Run("script.Run", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = echo.Run(ctx, c, keys, args...).Err()
		}
	})
	bound := NewBound(c, time.Second)
	b.Run("Bound.Eval", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = bound.Eval(ctx, c, echo, keys, args, nil).Err()
		}
	})
}
