package cache

import (
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/clocktest"
)

// fakeClock is the tests' manual clock.
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New() }

// redisClient is the client type tests pass around.
type redisClient = redis.UniversalClient
