package cqrs

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkRedisAppendGroup compares, side by side on one real Redis,
// checked single-event appends (a stream per goroutine) with the
// store's group commit (the default) and without it (each append a
// script call of its own, still pipelined by redisx):
//
//	scripts/with-redis.sh go test -run '^$' -bench RedisAppendGroup -benchtime 1s -count 3 ./cqrs/
func BenchmarkRedisAppendGroup(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through scripts/with-redis.sh")
	}
	for _, g := range []int{1, 32} {
		for _, mode := range []string{"group", "nogroup"} {
			b.Run(fmt.Sprintf("goroutines=%d/mode=%s", g, mode), func(b *testing.B) {
				c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 32})
				defer c.Close()
				s, err := NewRedisStore(c, WithPrefix(fmt.Sprintf("bench-group-%d:", time.Now().UnixNano())))
				if err != nil {
					b.Fatal(err)
				}
				if mode == "nogroup" {
					s.group = nil
				}
				ctx := context.Background()
				e := Event{Type: "deposited", Data: []byte(`{"amount":1}`)}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for w := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						stream, v := "acc-"+strconv.Itoa(w), int64(0)
						for next.Add(1) <= int64(b.N) {
							var err error // each goroutine's own: the outer err is shared
							if v, err = s.Append(ctx, stream, v, e); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				rate(b, b.N, start, "appends/s")
			})
		}
	}
}
