package redisx

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

	"github.com/sysdesign/patterns/internal/redistest"
)

// bucketish is a small token-bucket-like script: TIME, INCR, PEXPIRE.
var bucketish = redis.NewScript(`
local t = redis.call('TIME')
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 60000)
return n`)

// benchClients are the real targets of this environment, by name.
func benchClients(b *testing.B) map[string]redis.UniversalClient {
	cs := map[string]redis.UniversalClient{}
	if addr := os.Getenv(redistest.EnvAddr); addr != "" {
		cs["redis"] = redis.NewClient(&redis.Options{Addr: addr})
		cs["redis-ctxtimeout"] = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	}
	if addrs := redistest.ClusterAddrs(); len(addrs) > 0 {
		cs["cluster"] = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		cs["cluster-ctxtimeout"] = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	}
	if len(cs) == 0 {
		b.Skip("needs " + redistest.EnvAddr + " or " + redistest.EnvCluster + " (scripts/with-redis.sh sets them)")
	}
	for _, c := range cs {
		b.Cleanup(func() { _ = c.Close() })
	}
	return cs
}

// runConcurrently runs call b.N times in all from g goroutines and reports
// calls/s.
func runConcurrently(b *testing.B, g int, call func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := call(w); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// Pipelined against plain Evals of one small script, on one client, at
// 1, 16 and 64 goroutines, on Redis and on the Cluster.
func BenchmarkPipelinedEval(b *testing.B) {
	for name, c := range benchClients(b) {
		for _, g := range []int{1, 16, 64} {
			for _, mode := range []string{"pipelined", "plain"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", name, g, mode), func(b *testing.B) {
					bound := NewBound(c, time.Second)
					if mode == "plain" {
						bound = bound.WithoutPipelining()
					}
					keys := make([][]string, g)
					for i := range keys {
						keys[i] = []string{"bench:redisx:" + strconv.Itoa(i)}
					}
					ctx := context.Background()
					b.ReportAllocs()
					runConcurrently(b, g, func(w int) error {
						return bound.Eval(ctx, c, bucketish, keys[w], nil, nil).Err()
					})
				})
			}
		}
	}
}

// GETs through Bound.Command, pipelined, against go-redis's plain Get on
// the same client.
func BenchmarkPipelinedGet(b *testing.B) {
	for name, c := range benchClients(b) {
		ctx := context.Background()
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = "bench:redisx:get:" + strconv.Itoa(i)
			if err := c.Set(ctx, keys[i], "0123456789012345678901234567890123456789", time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
		for _, g := range []int{1, 16, 64} {
			for _, mode := range []string{"Command", "plain-Get"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", name, g, mode), func(b *testing.B) {
					bound := NewBound(c, time.Second)
					var n atomic.Int64
					runConcurrently(b, g, func(int) error {
						key := keys[int(n.Add(1))%len(keys)]
						if mode == "plain-Get" {
							return c.Get(ctx, key).Err()
						}
						return bound.Command(ctx, c, "get", key).Err()
					})
				})
			}
		}
	}
}
