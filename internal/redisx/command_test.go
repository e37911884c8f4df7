package redisx

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// Concurrent commands ride pipelines like Evals: every reply to its
// caller, a missing key is redis.Nil, on every target and client kind.
func TestCommandPipelinesConcurrentCalls(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, _ := tg.NewClient(opts...)
				b := NewBound(c, 5*time.Second)
				ctx := context.Background()
				var wg sync.WaitGroup
				for g := range 32 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range 20 {
							key := tg.Key("k" + strconv.Itoa(g) + ":" + strconv.Itoa(i))
							if err := b.Command(ctx, c, "set", key, key).Err(); err != nil {
								t.Errorf("SET: %v", err)
								return
							}
							if got, err := b.Command(ctx, c, "get", key).Text(); err != nil || got != key {
								t.Errorf("GET %s: %q, %v", key, got, err)
								return
							}
							if err := b.Command(ctx, c, "get", key+":missing").Err(); !errors.Is(err, redis.Nil) {
								t.Errorf("GET of a missing key: %v, want redis.Nil", err)
								return
							}
						}
					}()
				}
				wg.Wait()
				if pipelines, piped := PipelineStats(c); pipelines == 0 || piped < 2*pipelines {
					t.Fatalf("%d pipelines carried %d calls: not pipelined", pipelines, piped)
				}
			})
		}
	})
}

// A command on a hung connection returns by the bound on every client.
func TestCommandBounded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(opts...)
				b := NewBound(c, 50*time.Millisecond)
				faults.Hang()
				defer faults.Heal()
				var wg sync.WaitGroup
				for range 6 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						err := b.Command(context.Background(), c, "get", tg.Key("k")).Err()
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("err = %v, want DeadlineExceeded", err)
						}
						if d := time.Since(start); d > 150*time.Millisecond {
							t.Errorf("took %v, bound 50ms (+100ms slack)", d)
						}
					}()
				}
				wg.Wait()
			})
		}
	})
}
