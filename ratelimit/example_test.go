package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleNewMemory() {
	// 10 per second with bursts of 2. WithClock pins time for a stable output;
	// leave it out in a service.
	now := time.Unix(1_700_000_000, 0)
	lim, err := ratelimit.NewMemory(ratelimit.TokenBucket,
		ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 2},
		ratelimit.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		d, _ := lim.Allow(context.Background(), "user:42")
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 100ms
}

func ExampleNewMemory_leakyBucket() {
	// A leaky bucket spaces requests out instead of refusing them: each
	// admitted request says how long to wait before proceeding.
	now := time.Unix(1_700_000_000, 0)
	lim, _ := ratelimit.NewMemory(ratelimit.LeakyBucket,
		ratelimit.Limit{Rate: 5, Period: time.Second, Burst: 3},
		ratelimit.WithClock(func() time.Time { return now }))
	for i := 0; i < 4; i++ {
		d, _ := lim.Allow(context.Background(), "worker")
		fmt.Printf("allowed=%v delay=%s\n", d.Allowed, d.Delay)
	}
	// Output:
	// allowed=true delay=0s
	// allowed=true delay=200ms
	// allowed=true delay=400ms
	// allowed=false delay=0s
}
