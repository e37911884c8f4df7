package breaker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent trips of many breakers on one store ride pipelines by
// default and go alone with WithoutPipelining; every trip reaches Redis
// either way.
func TestRedisStorePipeliningOptOut(t *testing.T) {
	const goroutines, calls = 16, 10
	pipelining.CheckOptOut(t, goroutines, calls, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []StoreOption{WithPrefix(prefix), WithTimeout(pipelining.Timeout), WithPubSub(false)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		st, err := NewRedisStore(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		failing := errors.New("dependency down")
		return pipelining.Work{
			Call: func(g, i int) error {
				b, err := New(Config{Name: fmt.Sprintf("dep-%d-%d", g, i), Store: st, FailureThreshold: 1})
				if err != nil {
					return err
				}
				if err := b.Execute(context.Background(), func(context.Context) error { return failing }); !errors.Is(err, failing) {
					return fmt.Errorf("Execute: %v, want the call's own error", err)
				}
				if s := b.State(); s != Open {
					return fmt.Errorf("after one failure at threshold 1: %v", s)
				}
				return nil
			},
			// Each trip was written to the breaker's shared key.
			Verify: func() error {
				for g := range goroutines {
					for i := range calls {
						key := fmt.Sprintf("%s{dep-%d-%d}", prefix, g, i)
						if n, err := c.Exists(context.Background(), key).Result(); err != nil || n != 1 {
							return fmt.Errorf("%s: exists %d, %v: the trip did not reach Redis", key, n, err)
						}
					}
				}
				return nil
			},
		}
	})
}
