package ratelimit_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/ratelimit/ratelimittest"
)

// TestLimiterConformance runs the ratelimittest suite against the memory
// limiter and the Redis limiter on every configured target, so that they
// cannot drift apart: every case holds on all of them to the microsecond.
func TestLimiterConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		ratelimittest.TestLimiter(t, ratelimittest.Features{}, func(t *testing.T) ratelimittest.Backend {
			clk := clocktest.New()
			return ratelimittest.Backend{
				NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
					return ratelimit.NewMemory(alg, l, ratelimit.WithClock(clk.Now))
				},
				Now: clk.Now, Advance: clk.Advance,
			}
		})
	})
	// The wrappers, over a healthy limiter, decide exactly as it does.
	wrapped := map[string]func(primary ratelimit.Limiter, secondary ratelimit.Limiter) ratelimit.Limiter{
		"fallback":    func(p, s ratelimit.Limiter) ratelimit.Limiter { return ratelimit.Fallback(p, s) },
		"fail-open":   func(p, _ ratelimit.Limiter) ratelimit.Limiter { return ratelimit.FailOpen(p) },
		"fail-closed": func(p, _ ratelimit.Limiter) ratelimit.Limiter { return ratelimit.FailClosed(p) },
	}
	for name, wrap := range wrapped {
		t.Run(name, func(t *testing.T) {
			ratelimittest.TestLimiter(t, ratelimittest.Features{}, func(t *testing.T) ratelimittest.Backend {
				clk := clocktest.New()
				return ratelimittest.Backend{
					NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
						primary, err := ratelimit.NewMemory(alg, l, ratelimit.WithClock(clk.Now))
						if err != nil {
							return nil, err
						}
						secondary, err := ratelimit.NewMemory(alg, l, ratelimit.WithClock(clk.Now))
						if err != nil {
							return nil, err
						}
						return wrap(primary, secondary), nil
					},
					Now: clk.Now, Advance: clk.Advance,
				}
			})
		})
	}
	for _, k := range redistest.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			ratelimittest.TestLimiter(t, ratelimittest.Features{}, func(t *testing.T) ratelimittest.Backend {
				return redisBackend(t, redistest.New(t, k))
			})
		})
	}
}

// redisBackend decides by miniredis's server clock, which the suite moves,
// or on a real server (whose clock cannot be moved) by a manual clock
// passed to the scripts in place of TIME.
//
// On miniredis the limiters use a client of their own that never resends
// a call: under the race detector on a loaded machine a pipeline of 320
// decisions can take longer than the shared client's 1 s ReadTimeout, and
// go-redis would then send it again, charging every decision in it twice
// (the unknown outcome of a timed-out call, which the exactness cases are
// not about).
func redisBackend(t testing.TB, tg *redistest.Target) ratelimittest.Backend {
	client := tg.Client
	if tg.Mini != nil {
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), MaxRetries: -1, ReadTimeout: 5 * time.Second})
		t.Cleanup(func() { _ = c.Close() })
		client = c
	}
	newRedis := func(alg ratelimit.Algorithm, l ratelimit.Limit) (*ratelimit.Redis, error) {
		return ratelimit.NewRedis(client, alg, l, ratelimit.WithPrefix(tg.Prefix), ratelimit.WithTimeout(5*time.Second))
	}
	if tg.Mini != nil {
		return ratelimittest.Backend{
			NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
				r, err := newRedis(alg, l)
				if err != nil {
					return nil, err
				}
				return r, nil
			},
			Now: tg.Now, Advance: tg.Advance,
		}
	}
	clk := clocktest.New()
	return ratelimittest.Backend{
		NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
			r, err := newRedis(alg, l)
			if err != nil {
				return nil, err
			}
			ratelimit.SetRedisClock(r, clk.Now)
			return r, nil
		},
		Now: clk.Now, Advance: clk.Advance,
	}
}
