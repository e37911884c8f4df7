package cqrs

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent appends ride pipelines by default and go alone with
// WithoutPipelining; every stream ends at the same version either way.
func TestRedisStorePipeliningOptOut(t *testing.T) {
	const goroutines, appends = 16, 10
	pipelining.CheckOptOut(t, goroutines, appends, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []Option{WithPrefix(prefix), WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		s, err := NewRedisStore(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		versions := make([]int64, goroutines) // goroutine g's stream's version
		return pipelining.Work{
			Call: func(g, _ int) error {
				mu.Lock()
				v := versions[g]
				mu.Unlock()
				v, err := s.Append(context.Background(), "acc-"+strconv.Itoa(g), v, Event{Type: "deposited", Data: []byte(`{}`)})
				mu.Lock()
				versions[g] = v
				mu.Unlock()
				return err
			},
			Verify: func() error {
				for g, v := range versions {
					if v != appends {
						return fmt.Errorf("acc-%d at version %d, want %d", g, v, appends)
					}
				}
				return nil
			},
		}
	})
}
