package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

func TestParseBucketReply(t *testing.T) {
	for _, tc := range []struct {
		in      string
		allowed bool
		debt    int64
	}{{"1 0", true, 0}, {"0 700000", false, 700000}, {"1 360000000000000", true, 360000000000000}} {
		allowed, debt, err := parseBucketReply(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.allowed, allowed, tc.in)
		require.Equal(t, tc.debt, debt, tc.in)
	}
	for _, bad := range []string{"", "1", "1 ", "2 5", "1 -5", "1 5 ", "1 3.6e+14", "1 1234567890123456789", "10 5"} {
		_, _, err := parseBucketReply(bad)
		require.ErrorIs(t, err, errBadReply, bad)
	}
}

// Debts of 1e14 ticks and more are where Lua's tostring turns to exponent
// notation: the script must store and return them exactly all the same.
func TestRedisBucketLargeDebt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		const period = 1000 * time.Hour
		prefix := tg.Key("big:")
		lim, err := NewRedis(tg.Client, TokenBucket, Limit{Rate: 1, Period: period, Burst: 100}, WithPrefix(prefix))
		require.NoError(t, err)
		d, err := lim.AllowN(ctx, "k", 60) // debt 60·3.6e12 ticks
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, 40, d.Remaining)
		require.Equal(t, 60*period, d.ResetAfter)

		d, err = lim.AllowN(ctx, "k", 50) // 10 units short
		require.NoError(t, err)
		require.False(t, d.Allowed)
		require.Equal(t, 40, d.Remaining)
		require.InDelta(t, float64(10*period), float64(d.RetryAfter), float64(time.Minute))
		require.InDelta(t, float64(60*period), float64(d.ResetAfter), float64(time.Minute))

		d, err = lim.Peek(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, 40, d.Remaining)

		keys := keysUnder(t, tg.Client, prefix)
		require.Len(t, keys, 1)
		require.True(t, strings.HasPrefix(keys[0], prefix+"tb2:"), keys[0]) // the string layout's tag
		typ, err := tg.Client.Type(ctx, keys[0]).Result()
		require.NoError(t, err)
		require.Equal(t, "string", typ)
	})
}
