package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// bucket_batch.lua decides exactly as bucket.lua, decision by decision:
// random batches of decisions (peeks, n > 1, denials, a clock that steps
// back, debts past 1e14 where Lua's tostring turns to exponents, a key
// of the wrong type) give the same replies, and leave the same state,
// as the same decisions made one script call each, on every target.
func TestRedisBucketBatchDecidesAsOneByOne(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		for _, tc := range []struct {
			alg Algorithm
			l   Limit
		}{
			{TokenBucket, Limit{Rate: 7, Period: 700 * ms, Burst: 5}},
			{LeakyBucket, Limit{Rate: 7, Period: 700 * ms, Burst: 5}},
			{TokenBucket, Limit{Rate: 1, Period: 1000 * time.Hour, Burst: 100}},
		} {
			t.Run(fmt.Sprintf("%s/%v", tc.alg, tc.l.Period), func(t *testing.T) {
				r, err := NewRedis(tg.Client, tc.alg, tc.l)
				require.NoError(t, err)
				// Fake time: an hour's TTL slack, so that real time expires
				// neither side's state during the test.
				SetRedisClock(r, time.Now)
				rng := rand.New(rand.NewPCG(1, uint64(tc.l.Period)))
				// One hash tag: a batch's keys share a Cluster slot.
				space := tg.Key(fmt.Sprintf("{bb}%s:%v:", tc.alg, tc.l.Period))
				single := func(k string) string { return space + "one:" + k }
				batched := func(k string) string { return space + "batch:" + k }
				for _, k := range []string{single("list"), batched("list")} {
					require.NoError(t, tg.Client.RPush(ctx, k, "x").Err())
				}
				names := []string{"a", "b", "c", "list"}
				now := int64(1_700_000_000_000_000)
				for step := range 200 {
					now += rng.Int64N(3 * tc.l.Period.Microseconds() / int64(tc.l.Rate))
					if rng.IntN(10) == 0 {
						now -= rng.Int64N(tc.l.Period.Microseconds())
					}
					size := 1 + rng.IntN(6)
					keys := make([]string, size)
					args := append([]any(nil), r.merge.Shared...)
					var want []string
					for i := range keys {
						name := names[rng.IntN(len(names))]
						n := []int{0, 1, 1, 2, 3, 60}[rng.IntN(6)]
						keys[i] = batched(name)
						args = append(args, strconv.FormatInt(now, 10), strconv.Itoa(n))
						one := append([]any{strconv.FormatInt(now, 10), strconv.Itoa(n)}, r.limitArgs...)
						reply, err := bucketScript(tc.alg).Run(ctx, tg.Client, []string{single(name)}, one...).Text()
						if err != nil {
							reply = "error"
						}
						want = append(want, reply)
					}
					got, err := bucketBatchScript.Run(ctx, tg.Client, keys, args...).Slice()
					require.NoError(t, err, "step %d", step)
					require.Len(t, got, len(want), "step %d", step)
					for i := range want {
						g, ok := got[i].(string)
						if _, isErr := got[i].(error); isErr {
							g, ok = "error", true
						}
						require.True(t, ok, "step %d: element %d is %T", step, i, got[i])
						require.Equal(t, want[i], g, "step %d, decision %d of %d on %s", step, i, size, keys[i])
					}
					for _, name := range names[:3] {
						a, errA := tg.Client.Get(ctx, single(name)).Result()
						b, errB := tg.Client.Get(ctx, batched(name)).Result()
						require.Equal(t, errA, errB, "step %d: %s", step, name)
						require.Equal(t, a, b, "step %d: state of %s", step, name)
					}
				}
			})
		}
	})
}

func bucketScript(alg Algorithm) *redis.Script { return scripts[alg] }

// Concurrent decisions on one key, merged into batches by the pipelines,
// admit exactly the burst, on every target.
func TestRedisBucketMergedDecisionsAdmitTheBurst(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for _, alg := range []Algorithm{TokenBucket, LeakyBucket} {
			t.Run(alg.String(), func(t *testing.T) {
				lim, err := NewRedis(tg.Client, alg, Limit{Rate: 1, Period: time.Hour, Burst: 50}, WithPrefix(tg.Key(alg.String()+":")), WithTimeout(30*time.Second))
				require.NoError(t, err)
				const g, calls = 16, 10
				allowed := make(chan bool, g*calls)
				errs := make(chan error, g)
				for range g {
					go func() {
						for range calls {
							d, err := lim.Allow(context.Background(), "hot")
							if err != nil {
								errs <- err
								return
							}
							allowed <- d.Allowed
						}
						errs <- nil
					}()
				}
				for range g {
					require.NoError(t, <-errs)
				}
				close(allowed)
				n := 0
				for a := range allowed {
					if a {
						n++
					}
				}
				require.Equal(t, 50, n)
			})
		}
	})
}
