package ratelimit

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// keysUnder lists the keys under prefix on every master.
func keysUnder(t *testing.T, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex // ForEachMaster visits masters concurrently
	var keys []string
	scan := func(ctx context.Context, node *redis.Client) error {
		found, err := node.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, scan))
	} else {
		require.NoError(t, scan(ctx, c.(*redis.Client)))
	}
	return keys
}

// TestRedisKeysHaveTightTTL: every algorithm leaves one key (two for the
// sliding log), under the prefix, naming the user's key, whose TTL is no
// longer than the time until the key is idle again (plus the 1 ms margin).
func TestRedisKeysHaveTightTTL(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				prefix := tg.Key(alg.String() + ":")
				lim, err := NewRedis(tg.Client, alg, limitFor(alg), WithPrefix(prefix))
				require.NoError(t, err)
				d, err := lim.AllowN(context.Background(), "user:7", 2)
				require.NoError(t, err)
				require.True(t, d.Allowed)
				keys := keysUnder(t, tg.Client, prefix)
				sort.Strings(keys)
				if alg == SlidingWindowLog {
					require.Len(t, keys, 2)
					require.True(t, strings.HasSuffix(keys[0], ":{=user:7}"), keys[0])
					require.Equal(t, keys[0]+":n", keys[1])
				} else {
					require.Len(t, keys, 1)
					require.True(t, strings.HasSuffix(keys[0], ":user:7"), keys[0])
				}
				for _, k := range keys {
					ttl, err := tg.Client.PTTL(context.Background(), k).Result()
					require.NoError(t, err)
					require.Positive(t, ttl, k)
					require.LessOrEqual(t, ttl, d.ResetAfter.Round(time.Millisecond)+2*time.Millisecond, k)
				}
			})
		}
	})
}

// TestRedisFollowsServerClock: decisions use the Redis server's time, so
// every app server shares one limit whatever its own clock says.
func TestRedisFollowsServerClock(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	other, _ := tg.NewClient() // a second app server
	a, err := NewRedis(tg.Client, FixedWindow, PerMinute(3), WithPrefix(tg.Prefix))
	require.NoError(t, err)
	b, err := NewRedis(other, FixedWindow, PerMinute(3), WithPrefix(tg.Prefix))
	require.NoError(t, err)
	ctx := context.Background()
	tg.Advance(time.Minute - time.Duration(tg.Now().UnixNano()%int64(time.Minute))) // window start

	for i, lim := range []*Redis{a, b, a} {
		d, err := lim.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed, "request %d", i)
	}
	d, err := b.Allow(ctx, "k")
	require.NoError(t, err)
	require.False(t, d.Allowed, "the two servers did not share the limit")
	require.Equal(t, time.Minute, d.RetryAfter)

	tg.Advance(time.Minute) // only the server's clock moves
	d, err = b.Allow(ctx, "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

// TestRedisDownThenBack: a cut connection is an error at once, a hung one
// an error within WithTimeout — whether or not the client applies context
// deadlines itself — and the limiter recovers by itself.
func TestRedisDownThenBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				client, faults := tg.NewClient(opts...)
				lim, err := NewRedis(client, TokenBucket, PerSecond(100), WithPrefix(tg.Prefix), WithTimeout(50*time.Millisecond))
				require.NoError(t, err)
				ctx := context.Background()
				// The first call may dial and, on a cluster, load the slot
				// map: on a loaded machine that can exceed 50ms once.
				require.Eventually(t, func() bool { _, err := lim.Allow(ctx, "k"); return err == nil },
					5*time.Second, 10*time.Millisecond, "the limiter never answered while Redis was healthy")

				faults.Cut()
				start := time.Now()
				d, err := lim.Allow(ctx, "k")
				require.Error(t, err)
				require.False(t, d.Allowed, "an error must not come with an allowed decision")
				require.Less(t, time.Since(start), 500*time.Millisecond)

				faults.Heal()
				require.Eventually(t, func() bool {
					d, err := lim.Allow(ctx, "k")
					return err == nil && d.Allowed
				}, 2*time.Second, 10*time.Millisecond, "did not recover after Redis came back")

				faults.Hang()
				start = time.Now()
				_, err = lim.Allow(ctx, "k")
				require.ErrorIs(t, err, context.DeadlineExceeded)
				elapsed := time.Since(start)
				require.GreaterOrEqual(t, elapsed, 40*time.Millisecond)
				require.Less(t, elapsed, 500*time.Millisecond, "WithTimeout did not bound the call")

				faults.Heal()
				require.Eventually(t, func() bool {
					_, err := lim.Allow(ctx, "k")
					return err == nil
				}, 3*time.Second, 10*time.Millisecond)
			})
		}
	})
}

// TestRedisWithoutTimeoutHonoursTheCallersDeadline: with the limiter's own
// bound off, the caller's deadline still bounds a call to a hung Redis on
// every client, including go-redis's default one, which ignores ctx
// deadlines for socket I/O (issue 12: 2.0s, allowed, no error).
func TestRedisWithoutTimeoutHonoursTheCallersDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				client, faults := tg.NewClient(opts...)
				lim, err := NewRedis(client, TokenBucket, PerSecond(100), WithPrefix(tg.Prefix), WithoutTimeout())
				require.NoError(t, err)
				_, err = lim.Allow(context.Background(), "k") // connect and load the script while healthy
				require.NoError(t, err)

				faults.Hang()
				defer faults.Heal()
				var d Decision
				elapsed, ok := redistest.OnTime(100*time.Millisecond, func() {
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					defer cancel()
					d, err = lim.Allow(ctx, "k")
				})
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.False(t, d.Allowed, "an error must not come with an allowed decision")
				require.True(t, ok, "took %v: the caller's 50ms deadline (+50ms slack) did not bound the call", elapsed)
			})
		}
	})
}

func TestRedisHonoursContext(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	for _, opt := range []Option{WithTimeout(time.Second), WithoutTimeout()} {
		lim, err := NewRedis(tg.Client, TokenBucket, PerSecond(100), WithPrefix(tg.Prefix), opt)
		require.NoError(t, err)
		d, err := lim.Allow(context.Background(), "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = lim.Allow(ctx, "k")
		require.ErrorIs(t, err, context.Canceled)
	}
}

// TestRedisReloadsFlushedScripts: after SCRIPT FLUSH (a restart or failover
// to a fresh replica) EVALSHA fails with NOSCRIPT and the limiter falls
// back to EVAL by itself.
func TestRedisReloadsFlushedScripts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		lim, err := NewRedis(tg.Client, SlidingWindowCounter, PerSecond(100), WithPrefix(tg.Prefix))
		require.NoError(t, err)
		ctx := context.Background()
		_, err = lim.Allow(ctx, "k")
		require.NoError(t, err)
		if cc, ok := tg.Client.(*redis.ClusterClient); ok {
			require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
				return n.ScriptFlush(ctx).Err()
			}))
		} else {
			require.NoError(t, tg.Client.ScriptFlush(ctx).Err())
		}
		d, err := lim.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, 98, d.Remaining)
	})
}

func TestParseOutcome(t *testing.T) {
	o, err := parseOutcome("1 -4 0 1700000000000000 25")
	require.NoError(t, err)
	require.Equal(t, outcome{allowed: true, remaining: -4, reset: 1700000000000000, delay: 25}, o)
	o, err = parseOutcome("0 -0 7 8 0")
	require.NoError(t, err)
	require.Equal(t, outcome{retry: 7, reset: 8}, o)
	for _, bad := range []string{"", "1", "1 2 3 4", "1 2 3 4 5 6", "1 2 3 4 5 ", "1  2 3 4 5", "a 2 3 4 5", "1 2 3 4 1e+15", "1 2 3 4 -", "1 2 3 4 1234567890123456789"} {
		_, err := parseOutcome(bad)
		require.ErrorIs(t, err, errBadReply, "%q", bad)
	}
}

func FuzzParseOutcome(f *testing.F) {
	f.Add("1 5 0 100 0")
	f.Add("0 -3 17 9000000 0")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := parseOutcome(s)
		if err != nil {
			return
		}
		// whatever parses must be five plain integers
		require.Len(t, strings.Fields(s), 5)
		require.False(t, o.allowed && o.retry != 0 && s[0] != '1')
	})
}
