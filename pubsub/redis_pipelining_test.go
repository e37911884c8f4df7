package pubsub

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Concurrent publishes ride pipelines by default and go alone with
// WithoutPipelining.
func TestRedisPipeliningOptOut(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		// A generous read timeout: miniredis under -race on a loaded
		// machine is slow, and go-redis resends what times out.
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), ReadTimeout: 30 * time.Second, MaxRetries: -1})
		defer c.Close()
		opts := []RedisOption{WithTimeout(30 * time.Second)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		bus, err := NewRedis(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if err := bus.Publish(context.Background(), "orders.created", []byte("x")); err != nil {
						t.Error(err)
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
			t.Fatal("default: no pipeline for 160 concurrent publishes")
		}
	}
}
