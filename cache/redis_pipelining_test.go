package cache

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent Gets ride pipelines by default and go alone with
// WithoutPipelining; every Get finds its value either way.
func TestRedisPipeliningOptOut(t *testing.T) {
	pipelining.CheckOptOut(t, 16, 20, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []RedisOption{WithPrefix(prefix), WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		r, err := NewRedis[string](c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 16 {
			if err := r.Set(ctx, strconv.Itoa(i), "v"+strconv.Itoa(i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		return pipelining.Work{Call: func(g, _ int) error {
			v, ok, err := r.Get(ctx, strconv.Itoa(g))
			if err != nil || !ok || v != "v"+strconv.Itoa(g) {
				return fmt.Errorf("Get %d: %q, %v, %v", g, v, ok, err)
			}
			if _, ok, err := r.Get(ctx, "missing"); ok || err != nil {
				return fmt.Errorf("Get of a missing key: %v, %v", ok, err)
			}
			return nil
		}}
	})
}
