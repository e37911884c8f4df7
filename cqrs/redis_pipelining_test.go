package cqrs

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

// Concurrent appends ride pipelines by default and go alone with
// WithoutPipelining; every stream ends at the same version either way.
func TestRedisStorePipeliningOptOut(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		// Not tg.NewClient's 1s read timeout: a pipeline of slow scripts
		// (miniredis under -race on a loaded machine) could pass it, and
		// go-redis would then send the pipeline again.
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), ReadTimeout: 30 * time.Second, MaxRetries: -1})
		defer c.Close()
		// A generous bound: miniredis under -race on a loaded machine is slow.
		opts := []Option{WithPrefix(tg.Key("cqrs:")), WithTimeout(30 * time.Second)}
		if optOut {
			opts = append(opts, WithoutPipelining())
		}
		s, err := NewRedisStore(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream, v := "acc-"+strconv.Itoa(g), int64(0)
				for range 10 {
					var err error
					if v, err = s.Append(context.Background(), stream, v, Event{Type: "deposited", Data: []byte(`{}`)}); err != nil {
						t.Error(err)
						return
					}
				}
				if v != 10 {
					t.Errorf("%s at version %d, want 10", stream, v)
				}
			}()
		}
		wg.Wait()
		pipelines, _ := redisx.PipelineStats(c)
		if optOut && pipelines != 0 {
			t.Fatalf("WithoutPipelining: %d pipelines sent", pipelines)
		}
		if !optOut && pipelines == 0 {
			t.Fatal("default: no pipeline for 160 concurrent appends")
		}
	}
}
