package cache

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

var prefixes atomic.Int64

// uniquePrefix is a key prefix of its own within the test's.
func uniquePrefix(tg *redistest.Target) string {
	return fmt.Sprintf("%s%d:", tg.Prefix, prefixes.Add(1))
}

func mustRedis[V any](t testing.TB, tg *redistest.Target, opts ...RedisOption) *Redis[V] {
	t.Helper()
	r, err := NewRedis[V](tg.Client, append([]RedisOption{WithPrefix(tg.Prefix), WithTimeout(time.Second)}, opts...)...)
	require.NoError(t, err)
	return r
}

// mustTiered returns a Tiered on client (one "process") under prefix, with
// a local tier and a Redis tier whose deadlines are on clk (nil: the real
// clock), subscribed before it returns.
func mustTiered(t testing.TB, tg *redistest.Target, client redisClient, clk *fakeClock, prefix string, opts ...TieredOption) *Tiered[string] {
	t.Helper()
	var lopts []LRUOption
	if clk != nil {
		lopts = append(lopts, WithClock(clk.Now))
	}
	local := mustLRU[string](t, 1000, lopts...)
	remote, err := NewRedis[string](client, WithPrefix(prefix), WithTimeout(time.Second))
	require.NoError(t, err)
	if clk != nil {
		remote.now = clk.Now // entries' deadlines on the clock the test moves
	}
	tc, err := NewTiered(local, remote, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tc.Close() })
	require.Eventually(t, tc.live.Load, waitFor, tick, "subscribed")
	return tc
}
