package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerFaults(t *testing.T) {
	s := StartServer(t)
	c, _ := s.Client()
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())

	s.OOM()
	require.ErrorContains(t, c.Set(ctx, "k2", "v", 0).Err(), "OOM")
	require.NoError(t, c.Get(ctx, "k").Err(), "reads work under OOM")
	s.Roomy()
	require.NoError(t, c.Set(ctx, "k2", "v", 0).Err())

	s.Freeze()
	bounded, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	start := time.Now()
	err := c.Get(bounded, "k").Err()
	cancel()
	require.Error(t, err, "a frozen server answers nothing")
	require.Less(t, time.Since(start), 1500*time.Millisecond)
	s.Thaw()
	require.Eventually(t, func() bool { return c.Get(ctx, "k").Err() == nil }, 3*time.Second, 10*time.Millisecond)

	s.Sleep(300 * time.Millisecond)
	start = time.Now()
	require.NoError(t, c.Get(ctx, "k").Err())
	require.Greater(t, time.Since(start), 100*time.Millisecond, "the call waited for DEBUG SLEEP")

	s.Pause(200 * time.Millisecond)
	start = time.Now()
	require.NoError(t, c.Get(ctx, "k").Err())
	require.Greater(t, time.Since(start), 100*time.Millisecond, "the call waited for CLIENT PAUSE")

	s.ScriptFlush()
	s.FlushAll()
	require.Equal(t, int64(0), c.Exists(ctx, "k").Val())

	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	s.Kill()
	require.Error(t, c.Get(ctx, "k").Err(), "a killed server refuses")
	s.Restart()
	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 3*time.Second, 10*time.Millisecond)
	require.Equal(t, int64(0), c.Exists(ctx, "k").Val(), "restarted empty")
}

func TestServerWithAOFKeepsAcknowledgedWrites(t *testing.T) {
	s := StartServer(t, WithAOF())
	c, _ := s.Client()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		require.NoError(t, c.RPush(ctx, "l", i).Err())
	}
	s.Kill()
	s.Restart()
	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 3*time.Second, 10*time.Millisecond)
	require.Equal(t, int64(100), c.LLen(ctx, "l").Val(), "every acknowledged write survives kill -9")
}

// slowScript counts its runs in KEYS[1], then keeps the server busy for
// ARGV[1] ms: a reply that comes after the client's read timeout.
const slowScript = `redis.call('INCR', KEYS[1])
local function now() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1`

// The clients redistest hands out never send a call again: a reply that
// comes after the read timeout fails the call, whose script ran once
// (go-redis's default, MaxRetries 3, runs it four times: a rate-limit
// decision charged four times).
func TestClientsNeverSendACallAgain(t *testing.T) {
	s := StartServer(t)
	c, _ := s.Client()
	ctx := context.Background()
	slow := (serverReadTimeout + 200*time.Millisecond).Milliseconds()
	err := c.Eval(ctx, slowScript, []string{"runs"}, slow).Err()
	require.Error(t, err, "the reply came after the read timeout")
	s.AwaitAnswer()
	admin, _ := s.Client()
	require.Equal(t, "1", admin.Get(ctx, "runs").Val(), "the script ran more than once")
}
