package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/cache"
)

// Cache hits: our Redis cache's Get (pipelined, and WithoutPipelining)
// against a plain go-redis GET on the same client, 1,000 keys of 100 bytes.
func BenchmarkPipeliningCacheGet(b *testing.B) {
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 100))
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns", "patterns-unpipelined", "go-redis-GET"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					prefix := benchPrefixFor("cache")
					// A 1s bound (default 100ms), as for the limiter: the
					// plain GET loop has none at all.
					opts := []cache.RedisOption{cache.WithPrefix(prefix), cache.WithTimeout(time.Second)}
					if lib == "patterns-unpipelined" {
						opts = append(opts, cache.WithoutPipelining())
					}
					rc, err := cache.NewRedis[[]byte](c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					keys := make([]string, 1000)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
						if err := rc.Set(ctx, keys[i], value, time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					var get func(key string) error
					if lib != "go-redis-GET" {
						get = func(k string) error {
							_, ok, err := rc.Get(ctx, k)
							if err == nil && !ok {
								err = fmt.Errorf("miss on %s", k)
							}
							return err
						}
					} else {
						// the key our cache stores it under
						raw := func(k string) string { return prefix + "{}v:" + k }
						if err := c.Get(ctx, raw(keys[0])).Err(); err != nil {
							b.Fatalf("plain GET of %s: %v", raw(keys[0]), err)
						}
						get = func(k string) error { return c.Get(ctx, raw(k)).Err() }
					}
					var n atomic.Int64
					concurrently(b, g, "gets/s", func(int) error {
						return get(keys[int(n.Add(1))%len(keys)])
					})
				})
			}
		}
	}
}
