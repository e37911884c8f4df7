package cache

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Concurrent Gets ride pipelines by default and go alone with
// WithoutPipelining; every Get finds its value either way.
func TestRedisPipeliningOptOut(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		// A generous read timeout: miniredis under -race on a loaded
		// machine is slow, and go-redis resends what times out.
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), ReadTimeout: 30 * time.Second, MaxRetries: -1})
		defer c.Close()
		opts := []RedisOption{WithPrefix(tg.Key("c:")), WithTimeout(30 * time.Second)}
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
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					v, ok, err := r.Get(ctx, strconv.Itoa(g))
					if err != nil || !ok || v != "v"+strconv.Itoa(g) {
						t.Errorf("Get %d: %q, %v, %v", g, v, ok, err)
						return
					}
					if _, ok, err := r.Get(ctx, "missing"); ok || err != nil {
						t.Errorf("Get of a missing key: %v, %v", ok, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		pipelines, _ := redisx.PipelineStats(c)
		if optOut && pipelines != 0 {
			t.Fatalf("WithoutPipelining: %d pipelines sent", pipelines)
		}
		if !optOut && pipelines == 0 {
			t.Fatal("default: no pipeline for 640 concurrent Gets")
		}
	}
}
