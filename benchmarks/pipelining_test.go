package benchmarks

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Issue 13: concurrent Redis calls ride pipelines. Each benchmark runs our
// package pipelined (the default) and WithoutPipelining side by side, at
// 1, 16 and 64 goroutines (cqrs: 32 too), on one Redis and on the
// 3-master Cluster, all on one client built as a service would
// (ContextTimeoutEnabled, pool of 32). Run with scripts/with-redis.sh:
//
//	cd benchmarks && go test -run '^$' -bench 'Pipelining' -benchtime 2s -count 5

// pipeTargets are the real Redis targets of this environment.
func pipeTargets(b *testing.B) []string {
	var ts []string
	if os.Getenv("PATTERNS_REDIS_ADDR") != "" {
		ts = append(ts, "redis")
	}
	if os.Getenv("PATTERNS_REDIS_CLUSTER") != "" {
		ts = append(ts, "cluster")
	}
	if len(ts) == 0 {
		b.Skip("PATTERNS_REDIS_ADDR / PATTERNS_REDIS_CLUSTER not set: run through scripts/with-redis.sh")
	}
	return ts
}

// pipeClient is a new client of target, closed when b ends.
func pipeClient(b *testing.B, target string) redis.UniversalClient {
	var c redis.UniversalClient
	if target == "cluster" {
		var addrs []string
		for _, a := range strings.Split(os.Getenv("PATTERNS_REDIS_CLUSTER"), ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, PoolSize: 32})
	} else {
		c = redis.NewClient(&redis.Options{Addr: os.Getenv("PATTERNS_REDIS_ADDR"), ContextTimeoutEnabled: true, PoolSize: 32})
	}
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("%s: %v", target, err)
	}
	return c
}

// concurrently runs call b.N times in all from g goroutines (w: the
// goroutine's number) and reports the rate as unit.
func concurrently(b *testing.B, g int, unit string, call func(w int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), unit)
}

var pipeModes = []string{"pipelined", "unpipelined"}

func benchPrefixFor(what string) string {
	return fmt.Sprintf("bench:%s:%d:", what, time.Now().UnixNano())
}
