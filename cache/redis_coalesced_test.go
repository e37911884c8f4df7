package cache

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent Sets and one-key Deletes ride pipelines by default and go
// alone with WithoutPipelining, and land either way. The calls are Sets
// and Deletes only (a Get would ride pipelines of its own): each goroutine
// sets its key (with and without a TTL) and sets and deletes a scratch
// key; at the end every key holds its last value with its TTL, and no
// scratch key is left.
func TestRedisSetDeletePipelined(t *testing.T) {
	const goroutines, calls = 16, 20
	pipelining.CheckOptOut(t, goroutines, calls, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []RedisOption{WithPrefix(prefix), WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		r, err := NewRedis[string](c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		value := func(g, i int) string { return strconv.Itoa(g) + "/" + strconv.Itoa(i) }
		ttl := func(i int) time.Duration { return time.Duration(i%2) * time.Minute } // 0: none
		scratch := func(g int) string { return "scratch:" + strconv.Itoa(g) }
		return pipelining.Work{
			Call: func(g, i int) error {
				if err := r.Set(ctx, strconv.Itoa(g), value(g, i), ttl(i)); err != nil {
					return fmt.Errorf("Set: %w", err)
				}
				if err := r.Set(ctx, scratch(g), value(g, i), time.Minute); err != nil {
					return fmt.Errorf("Set scratch: %w", err)
				}
				if err := r.Delete(ctx, scratch(g)); err != nil {
					return fmt.Errorf("Delete: %w", err)
				}
				return nil
			},
			Verify: func() error {
				for g := range goroutines {
					e, ok, err := r.GetEntry(ctx, strconv.Itoa(g))
					if want := value(g, calls-1); !ok || err != nil || e.Value != want {
						return fmt.Errorf("key %d: %q, %v, %v; want %q", g, e.Value, ok, err, want)
					}
					if want := ttl(calls - 1); e.TTL <= 0 || e.TTL > want {
						return fmt.Errorf("key %d: TTL %s, want up to %s", g, e.TTL, want)
					}
					if _, ok, err := r.Get(ctx, scratch(g)); ok || err != nil {
						return fmt.Errorf("scratch key %d after its Delete: %v, %v", g, ok, err)
					}
				}
				return nil
			},
		}
	})
}

// A Set without a TTL stores the key without one, replacing the TTL an
// earlier Set gave it; one with a TTL sets it, to the millisecond.
func TestRedisSetTTLs(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		r, c := mustRedis[string](t, tg), tg.Client
		if err := r.Set(ctx, "k", "a", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := r.Set(ctx, "k", "b", 0); err != nil {
			t.Fatal(err)
		}
		if pttl := c.PTTL(ctx, r.redisKey("k")).Val(); pttl != -1 {
			t.Fatalf("after a Set without TTL: PTTL %s, want none (-1)", pttl)
		}
		if err := r.Set(ctx, "k", "c", time.Minute); err != nil {
			t.Fatal(err)
		}
		if pttl := c.PTTL(ctx, r.redisKey("k")).Val(); pttl <= 50*time.Second || pttl > time.Minute {
			t.Fatalf("after a Set for 1m: PTTL %s", pttl)
		}
	})
}
