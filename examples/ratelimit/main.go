// Command ratelimit shows the five algorithms of package ratelimit side by
// side on the same traffic, Fallback keeping limits local while Redis is
// unreachable, then the HTTP middleware's client keys and a full key table.
//
//	go run ./examples/ratelimit                        # in memory: instant, the same output every run
//	go run ./examples/ratelimit -redis localhost:6379  # the algorithms on a Redis server, in real time
//
// In memory the limiters run on a fake clock (ratelimit.WithClock), so the
// output is deterministic and nothing waits. Redis takes time from its own
// clock, which cannot be faked: there the Period shrinks to 100ms and the
// demo sleeps for real, so a request here and there may land differently.
// The Fallback part needs a Redis too: without -redis it runs an in-process
// miniredis.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "", "run the algorithms on the Redis server at `host:port` instead of in memory")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit demo:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	var w *world
	if addr == "" {
		fmt.Printf("Rate limiting in memory, on a fake clock: deterministic, and nothing waits.\n\n")
		w = memoryWorld()
		mr, err := miniredis.Run() // for the Fallback part only
		if err != nil {
			return err
		}
		defer mr.Close()
		return runAll(w, mr.Addr())
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at %s: %w", addr, err)
	}
	fmt.Printf("Rate limiting on Redis at %s, in real time: Redis limiters take time from\n", addr)
	fmt.Printf("the server's clock, which cannot be faked, so Periods are 100ms instead of 1s and\n")
	fmt.Printf("the demo really sleeps. Timing jitter may move a request here and there.\n\n")
	return runAll(redisWorld(c), addr)
}

func runAll(w *world, redisAddr string) error {
	for _, scenario := range []func(*world) error{sameTraffic, boundarySpike, leakySpacing, tokenBurst} {
		if err := scenario(w); err != nil {
			return err
		}
	}
	if err := fallbackDemo(redisAddr); err != nil {
		return err
	}
	return middlewareDemo()
}
