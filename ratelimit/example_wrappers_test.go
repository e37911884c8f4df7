package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleFallback() {
	ctx := context.Background()
	server, _ := miniredis.Run() // stands in for your Redis
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer client.Close()

	// 100/s for the whole fleet; while Redis is down, each of 4 instances
	// allows its share, 25/s, on its own.
	fleet, _ := ratelimit.NewRedis(client, ratelimit.TokenBucket, ratelimit.PerSecond(100),
		ratelimit.WithTimeout(50*time.Millisecond))
	local, _ := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(25))
	lim := ratelimit.Fallback(fleet, local, ratelimit.WithObserver(func(e ratelimit.Event) {
		fmt.Println(e.Kind, "from", e.Limiter) // count it, alert on it; keep it quick
	}))

	d, _ := lim.Allow(ctx, "user:42")
	fmt.Println(d.Allowed, d.Limit.Rate)
	server.Close() // Redis goes away
	d, _ = lim.Allow(ctx, "user:42")
	fmt.Println(d.Allowed, d.Limit.Rate)
	// Output:
	// true 100
	// degraded from fallback
	// fallback from fallback
	// true 25
}

func ExampleFailClosed() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // nothing listens there
	defer client.Close()
	logins, _ := ratelimit.NewRedis(client, ratelimit.SlidingWindowLog, ratelimit.PerMinute(5),
		ratelimit.WithTimeout(20*time.Millisecond))

	// Better to refuse logins for a while than to let guessing run unlimited.
	d, err := ratelimit.FailClosed(logins).Allow(context.Background(), "login:alice")
	fmt.Println(d.Allowed, d.RetryAfter, err)
	// Output:
	// false 1s <nil>
}
