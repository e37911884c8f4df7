package saga

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

// Concurrent sagas' log writes ride pipelines by default and go alone
// with WithoutPipelining; every saga completes either way.
func TestRedisLogPipeliningOptOut(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		// Not tg.NewClient's 1s read timeout: a pipeline of slow scripts
		// (miniredis under -race on a loaded machine) could pass it, and
		// go-redis would then send the pipeline again.
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), ReadTimeout: 30 * time.Second, MaxRetries: -1})
		defer c.Close()
		// A generous bound: miniredis under -race on a loaded machine is slow.
		opts := []LogOption{WithPrefix(tg.Key("saga:")), WithTimeout(30 * time.Second)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		l, err := NewRedisLog(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		s := mustNew(t, "p", []Step[order]{{Name: "a", Action: noop}, {Name: "b", Action: noop}}, WithLog(l))
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					res, err := s.Execute(context.Background(), strconv.Itoa(g)+"-"+strconv.Itoa(i), order{})
					if err != nil || res.Status != Completed {
						t.Errorf("saga %d-%d: %v, %v", g, i, res, err)
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
			t.Fatal("default: no pipeline for 80 concurrent sagas")
		}
	}
}
