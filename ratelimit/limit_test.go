package ratelimit

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestInvalidConfig(t *testing.T) {
	cases := []struct {
		name string
		alg  Algorithm
		l    Limit
		want string
	}{
		{"zero algorithm", 0, PerSecond(1), "unknown algorithm"},
		{"unknown algorithm", Algorithm(99), PerSecond(1), "unknown algorithm"},
		{"zero rate", TokenBucket, Limit{Rate: 0, Period: time.Second}, "Rate must be positive"},
		{"negative rate", FixedWindow, Limit{Rate: -3, Period: time.Second}, "Rate must be positive"},
		{"zero period", TokenBucket, Limit{Rate: 1}, "Period must be positive"},
		{"negative period", SlidingWindowLog, Limit{Rate: 1, Period: -time.Second}, "Period must be positive"},
		{"sub-microsecond period", TokenBucket, Limit{Rate: 1, Period: 1500 * time.Nanosecond}, "whole number of microseconds"},
		{"negative burst", LeakyBucket, Limit{Rate: 1, Period: time.Second, Burst: -1}, "Burst must not be negative"},
		{"burst on a window", FixedWindow, Limit{Rate: 10, Period: time.Second, Burst: 20}, "Burst applies to TokenBucket and LeakyBucket only"},
		{"too large to stay exact", TokenBucket, Limit{Rate: 1 << 30, Period: 1000 * time.Hour}, "too large"},
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer client.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewMemory(c.alg, c.l)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, c.want)
			_, err = NewRedis(client, c.alg, c.l)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	l := PerSecond(1)
	for name, err := range map[string]error{
		"nil clock":         second(NewMemory(TokenBucket, l, WithClock(nil))),
		"nil option":        second(NewMemory(TokenBucket, l, nil)),
		"zero max keys":     second(NewMemory(TokenBucket, l, WithMaxKeys(0))),
		"nil observer":      second(NewMemory(TokenBucket, l, WithObserver(nil))),
		"empty prefix":      second(NewRedis(client, TokenBucket, l, WithPrefix(""))),
		"prefix with a tag": second(NewRedis(client, TokenBucket, l, WithPrefix("{app}:"))),
		"prefix with brace": second(NewRedis(client, TokenBucket, l, WithPrefix("app}:"))),
		"zero timeout":      second(NewRedis(client, TokenBucket, l, WithTimeout(0))),
		"nil redis option":  second(NewRedis(client, TokenBucket, l, nil)),
		"nil redis client":  second(NewRedis(nil, TokenBucket, l)),
	} {
		require.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	// The same options, where they apply, are accepted.
	_, err := NewMemory(TokenBucket, l, WithClock(time.Now), WithMaxKeys(5))
	require.NoError(t, err)
	_, err = NewRedis(client, TokenBucket, l, WithPrefix("x:"), WithTimeout(time.Second))
	require.NoError(t, err)
	_, err = NewRedis(client, TokenBucket, l, WithoutTimeout(), WithLogger(nil), WithObserver(func(Event) {}))
	require.NoError(t, err)
}

// Which option fits which constructor is the compiler's business: an
// option that does not fit (WithPrefix on NewMemory, WithClock on NewRedis)
// does not compile. These assertions pin the sets.
var (
	_ MemoryOption  = WithClock(time.Now)
	_ MemoryOption  = WithMaxKeys(1)
	_ RedisOption   = WithPrefix("")
	_ RedisOption   = WithTimeout(0)
	_ RedisOption   = WithoutTimeout()
	_ LimiterOption = WithObserver(nil)
	_ LimiterOption = WithLogger(nil)
	_ WrapOption    = WithCooldown(0)
	_ WrapOption    = WithOnDegrade(nil)
	_ Option        = WithPrefix("") // the deprecated name of RedisOption

	_ ClientIPOption   = WithTrustedProxies()
	_ ClientIPOption   = WithProxyHeader("")
	_ ClientIPOption   = WithIPv6Prefix(0)
	_ MiddlewareOption = WithSkip(nil)
)

func second[T any](_ T, err error) error { return err }

func TestLimitHelpers(t *testing.T) {
	require.Equal(t, Limit{Rate: 5, Period: time.Second}, PerSecond(5))
	require.Equal(t, Limit{Rate: 5, Period: time.Minute}, PerMinute(5))
	require.Equal(t, Limit{Rate: 5, Period: time.Hour}, PerHour(5))
	require.Equal(t, "5/1s", PerSecond(5).String())
	require.Equal(t, "5/1m burst 9", Limit{Rate: 5, Period: time.Minute, Burst: 9}.String())
	require.Equal(t, "5/90s", Limit{Rate: 5, Period: 90 * time.Second}.String())
	require.Equal(t, "5/2h", Limit{Rate: 5, Period: 2 * time.Hour}.String())
	require.Equal(t, "5/1.5ms", Limit{Rate: 5, Period: 1500 * time.Microsecond}.String())
	require.Equal(t, "sliding-window-counter", SlidingWindowCounter.String())
	require.Equal(t, "Algorithm(42)", Algorithm(42).String())

	m, err := NewMemory(TokenBucket, PerMinute(7))
	require.NoError(t, err)
	require.Equal(t, Limit{Rate: 7, Period: time.Minute, Burst: 7}, m.Limit(), "Burst 0 means Rate")
}
