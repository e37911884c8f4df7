package ratelimit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
	"github.com/sysdesign/patterns/ratelimit"
)

// Concurrent decisions ride pipelines by default, and each goes alone
// with WithoutPipelining; the decisions are the same either way.
func TestRedisPipeliningOptOut(t *testing.T) {
	pipelining.CheckOptOut(t, 32, 10, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []ratelimit.RedisOption{ratelimit.WithPrefix(prefix), ratelimit.WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, ratelimit.WithoutPipelining())
		}
		lim, err := ratelimit.NewRedis(c, ratelimit.FixedWindow, ratelimit.Limit{Rate: 100, Period: time.Hour}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var allowed atomic.Int64
		return pipelining.Work{
			Call: func(_, _ int) error {
				d, err := lim.Allow(context.Background(), "k")
				if d.Allowed {
					allowed.Add(1)
				}
				return err
			},
			Verify: func() error {
				if n := allowed.Load(); n != 100 {
					return fmt.Errorf("%d allowed of 320, limit 100", n)
				}
				return nil
			},
		}
	})
}
