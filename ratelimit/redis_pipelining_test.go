package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redisx"
	"github.com/sysdesign/patterns/ratelimit"
)

// Concurrent decisions ride pipelines by default, and each goes alone
// with WithoutPipelining; the decisions are the same either way.
func TestRedisPipeliningOptOut(t *testing.T) {
	for _, opt := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		c, _ := tg.NewClient()
		opts := []ratelimit.RedisOption{ratelimit.WithPrefix(tg.Key("rl:")), ratelimit.WithTimeout(5 * time.Second)}
		if opt {
			opts = append(opts, ratelimit.WithoutPipelining())
		}
		lim, err := ratelimit.NewRedis(c, ratelimit.FixedWindow, ratelimit.Limit{Rate: 100, Period: time.Hour}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					d, err := lim.Allow(context.Background(), "k")
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if allowed != 100 {
			t.Fatalf("WithoutPipelining=%v: %d allowed of 320, limit 100", opt, allowed)
		}
		pipelines, _ := redisx.PipelineStats(c)
		if opt && pipelines != 0 {
			t.Fatalf("WithoutPipelining: %d pipelines sent", pipelines)
		}
		if !opt && pipelines == 0 {
			t.Fatal("default: no pipeline sent for 320 concurrent decisions")
		}
	}
}
