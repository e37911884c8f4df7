package pubsub

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent publishes ride pipelines by default and go alone with
// WithoutPipelining.
func TestRedisPipeliningOptOut(t *testing.T) {
	pipelining.CheckOptOut(t, 16, 10, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []RedisOption{WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		bus, err := NewRedis(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close() })
		return pipelining.Work{Call: func(_, _ int) error {
			return bus.Publish(context.Background(), "orders.created", []byte("x"))
		}}
	})
}
