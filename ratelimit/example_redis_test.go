package ratelimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleNewRedis() {
	server, _ := miniredis.Run() // stands in for your Redis
	defer server.Close()
	server.SetTime(time.Unix(1_700_000_000, 0)) // the server's clock, pinned for a stable output
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer rdb.Close()

	// 3 per minute per user, shared by every process on this Redis.
	lim, err := ratelimit.NewRedis(rdb, ratelimit.SlidingWindowLog, ratelimit.PerMinute(3),
		ratelimit.WithPrefix("myservice:rl:"),
		ratelimit.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 4 {
		d, err := lim.Allow(ctx, "user:42")
		if err != nil {
			fmt.Println("Redis failed:", err) // or wrap lim in Fallback/FailOpen/FailClosed
			continue
		}
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter)
	}
	fmt.Printf("%+v\n", lim.Stats())
	// Output:
	// true 2 0s
	// true 1 0s
	// true 0 0s
	// false 0 1m0s
	// {Allowed:3 Denied:1 Errors:0 Fallbacks:0 Keys:0}
}

func ExampleRedis_Peek() {
	server, _ := miniredis.Run()
	defer server.Close()
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer rdb.Close()
	lim, _ := ratelimit.NewRedis(rdb, ratelimit.FixedWindow, ratelimit.PerHour(100))

	ctx := context.Background()
	_, _ = lim.AllowN(ctx, "api-token:7", 40)
	// How much is left, for a dashboard or a quota endpoint, spending nothing:
	for range 2 {
		d, _ := lim.Peek(ctx, "api-token:7")
		fmt.Println(d.Allowed, d.Remaining)
	}
	// Output:
	// true 60
	// true 60
}
