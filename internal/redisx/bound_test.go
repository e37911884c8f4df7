package redisx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

func TestHonoursDeadlines(t *testing.T) {
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer plain.Close()
	honouring := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer honouring.Close()
	if HonoursDeadlines(plain) || !HonoursDeadlines(honouring) {
		t.Fatal("ContextTimeoutEnabled misread")
	}
}

// A hung server costs a call the bound, not the client's read timeout (1s
// in redistest), with or without ContextTimeoutEnabled.
func TestDoReturnsByTheBound(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range map[string][]redistest.ClientOption{
			"default client":        nil,
			"ContextTimeoutEnabled": {redistest.WithContextTimeouts()},
		} {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(opts...)
				b := NewBound(c, 50*time.Millisecond)
				ctx := context.Background()
				v, err := Do(ctx, b, func(ctx context.Context) (string, error) { return c.Ping(ctx).Result() })
				if err != nil || v != "PONG" {
					t.Fatalf("healthy: %q, %v", v, err)
				}
				faults.Hang()
				defer faults.Heal()
				start := time.Now()
				err = Run(ctx, b, func(ctx context.Context) error { return c.Ping(ctx).Err() })
				if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
					t.Fatalf("took %v, bound 50ms", elapsed)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want DeadlineExceeded", err)
				}
			})
		}
	})
}

func TestDoRespectsACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := Run(ctx, Bound{}, func(context.Context) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Fatalf("err %v, called %v", err, called)
	}
}
