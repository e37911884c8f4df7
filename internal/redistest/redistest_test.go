package redistest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestEachRunsMiniredisAndIsolatesKeys(t *testing.T) {
	var kinds []Kind
	prefixes := map[string]bool{}
	Each(t, func(t *testing.T, tg *Target) {
		kinds = append(kinds, tg.Kind)
		require.False(t, prefixes[tg.Prefix], "prefix reused")
		prefixes[tg.Prefix] = true
		require.NotContains(t, tg.Prefix, "{", "prefix must leave hash tags to packages")
		require.True(t, strings.HasPrefix(tg.Key("x"), tg.Prefix))
		require.NoError(t, tg.Client.Set(context.Background(), tg.Key("x"), "1", 0).Err())
	})
	require.Equal(t, Kinds(), kinds)
	require.Equal(t, Mini, kinds[0])
}

func TestFaultsCutHangHeal(t *testing.T) {
	Each(t, func(t *testing.T, tg *Target) {
		ctx := context.Background()
		require.NoError(t, tg.Client.Ping(ctx).Err())
		other, _ := tg.NewClient()

		tg.Cut()
		require.Error(t, tg.Client.Ping(ctx).Err())
		require.NoError(t, other.Ping(ctx).Err(), "a cut on one client reached another")

		tg.Heal()
		require.Eventually(t, func() bool { return tg.Client.Ping(ctx).Err() == nil }, 2*time.Second, 10*time.Millisecond)

		tg.Hang()
		start := time.Now()
		require.Error(t, tg.Client.Ping(ctx).Err())
		require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "a hung call must wait for its read timeout")
		tg.Heal()
		require.Eventually(t, func() bool { return tg.Client.Ping(ctx).Err() == nil }, 3*time.Second, 10*time.Millisecond)
	})
}

func TestAdvanceMovesMiniredisClock(t *testing.T) {
	tg := New(t, Mini)
	ctx := context.Background()
	start := tg.Now()
	require.NoError(t, tg.Client.Set(ctx, tg.Key("ttl"), "v", time.Second).Err())
	tg.Advance(999 * time.Millisecond)
	require.Equal(t, int64(1), tg.Client.Exists(ctx, tg.Key("ttl")).Val())
	tg.Advance(time.Millisecond)
	require.Equal(t, int64(0), tg.Client.Exists(ctx, tg.Key("ttl")).Val())
	server, err := tg.Client.Time(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, start.Add(time.Second).Unix(), server.Unix())
}

// Deafen: the server runs what it is sent and the replies are lost, so a
// call fails at the read timeout with its effect done once (the clients
// never send a call again, MaxRetries -1); Heal frees the connections at
// once and the client works again.
func TestFaultsDeafenRunsCommandsAndLosesReplies(t *testing.T) {
	Each(t, func(t *testing.T, tg *Target) {
		ctx := context.Background()
		c, faults := tg.NewClient()
		key := tg.Key("n")
		require.NoError(t, c.Incr(ctx, key).Err())

		faults.Deafen()
		require.Error(t, c.Incr(ctx, key).Err(), "a deaf client gets no reply")
		require.Equal(t, "2", tg.Client.Get(ctx, key).Val(), "the server ran the command once, not again on a retry")

		start := time.Now()
		faults.Heal()
		require.Eventually(t, func() bool { return c.Incr(ctx, key).Err() == nil }, 3*time.Second, 5*time.Millisecond)
		require.Less(t, time.Since(start), 2*time.Second, "Heal frees the deafened connections")
		require.Equal(t, "3", tg.Client.Get(ctx, key).Val())
	})
}

// CommandLog sees single and pipelined commands, in order, lower-cased.
func TestCommandLog(t *testing.T) {
	tg := New(t, Mini)
	log := &CommandLog{}
	tg.Client.AddHook(log)
	ctx := context.Background()
	tg.Client.Set(ctx, tg.Prefix+"k", "v", 0)
	_, err := tg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, tg.Prefix+"k")
		p.Get(ctx, tg.Prefix+"k")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.Take(); !slices.Equal(got, []string{"set", "get", "get"}) {
		t.Fatalf("Take = %v, want [set get get]", got)
	}
	tg.Client.Get(ctx, tg.Prefix+"k")
	if got := log.Counts(); len(got) != 1 || got["get"] != 1 {
		t.Fatalf("Counts = %v, want map[get:1]", got)
	}
	if got := log.Take(); len(got) != 0 {
		t.Fatalf("Take after Counts = %v, want nothing", got)
	}
}
