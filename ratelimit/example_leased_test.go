package ratelimit_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleNewLeased() {
	ctx := context.Background()
	server, _ := miniredis.Run() // stands in for your Redis
	defer server.Close()
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer client.Close()

	// 600k redirects a minute per client for the whole fleet, spent in
	// leases of 64: one Redis call per 64 redirects of a busy client. Each
	// instance may admit up to 63 beyond the limit in an instant burst.
	limit := ratelimit.PerMinute(600_000)
	shared, _ := ratelimit.NewRedis(client, ratelimit.TokenBucket, limit)
	leased, _ := ratelimit.NewLeased(shared, limit)
	// FailOpen around Leased: while Redis is down, redirects go on.
	lim := ratelimit.FailOpen(leased)

	for range 128 {
		if d, _ := lim.Allow(ctx, "198.51.100.7"); !d.Allowed {
			fmt.Println("denied")
		}
	}
	fmt.Println(leased.LeaseSize(), shared.Stats().Allowed, leased.Stats().Allowed)
	// Output:
	// 64 2 128
}
