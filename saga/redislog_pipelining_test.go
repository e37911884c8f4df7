package saga

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest/pipelining"
)

// Concurrent sagas' log writes ride pipelines by default and go alone
// with WithoutPipelining; every saga completes either way.
func TestRedisLogPipeliningOptOut(t *testing.T) {
	pipelining.CheckOptOut(t, 16, 5, func(t *testing.T, c *redis.Client, prefix string, optOut bool) pipelining.Work {
		opts := []LogOption{WithPrefix(prefix), WithTimeout(pipelining.Timeout)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		l, err := NewRedisLog(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		s := mustNew(t, "p", []Step[order]{{Name: "a", Action: noop}, {Name: "b", Action: noop}}, WithLog(l))
		return pipelining.Work{Call: func(g, i int) error {
			res, err := s.Execute(context.Background(), strconv.Itoa(g)+"-"+strconv.Itoa(i), order{})
			if err != nil || res.Status != Completed {
				return fmt.Errorf("saga %d-%d: %v, %v", g, i, res, err)
			}
			return nil
		}}
	})
}
