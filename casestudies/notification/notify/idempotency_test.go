package notify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// testIdemProtocol checks a store's claim → confirm / release cycle.
func testIdemProtocol(t *testing.T, s idemStore, advance func(time.Duration)) {
	ctx := context.Background()
	held, done, err := s.claim(ctx, "k", "n1")
	require.NoError(t, err)
	assert.Equal(t, "n1", held)
	assert.False(t, done, "a fresh claim is pending")

	held, done, err = s.claim(ctx, "k", "n2")
	require.NoError(t, err)
	assert.Equal(t, "n1", held, "a second request sees the first claim")
	assert.False(t, done, "…still pending: it must wait, not answer n1")

	// A failed accept releases the key: the waiting request takes it.
	require.NoError(t, s.release(ctx, "k", "n1"))
	held, _, err = s.claim(ctx, "k", "n2")
	require.NoError(t, err)
	assert.Equal(t, "n2", held)
	require.NoError(t, s.release(ctx, "k", "n1"), "releasing another's claim does nothing")
	held, _, _ = s.claim(ctx, "k", "n3")
	assert.Equal(t, "n2", held)

	// Confirmed, it answers duplicates for the TTL and cannot be released.
	require.NoError(t, s.confirm(ctx, "k", "n2", time.Hour))
	require.NoError(t, s.release(ctx, "k", "n2"))
	held, done, err = s.claim(ctx, "k", "n4")
	require.NoError(t, err)
	assert.Equal(t, "n2", held)
	assert.True(t, done)
	advance(time.Hour + time.Second)
	held, _, _ = s.claim(ctx, "k", "n5")
	assert.Equal(t, "n5", held, "expired with its TTL")

	// A pending claim left by a crashed request frees the key by itself.
	advance(idemPendingTTL + time.Second)
	held, _, _ = s.claim(ctx, "k", "n6")
	assert.Equal(t, "n6", held)
	assert.Error(t, s.confirm(ctx, "k", "n5", time.Hour), "n5's claim had expired")
}

func TestIdempotencyProtocolMemory(t *testing.T) {
	clock := clocktest.New()
	testIdemProtocol(t, newMemoryIdem(clock.Now), clock.Advance)
}

func TestIdempotencyProtocolRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini == nil {
			t.Skip("expiry needs a server clock the test controls: miniredis")
		}
		s := &redisIdem{c: tg.Client, prefix: tg.Prefix + "idem:"}
		testIdemProtocol(t, s, tg.Advance)
	})
}
