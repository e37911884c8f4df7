package pubsub

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

func newTestRedis(t *testing.T, tg *redistest.Target, c redisClient, opts ...RedisOption) *Redis {
	t.Helper()
	b, err := NewRedis(c, append([]RedisOption{WithPrefix(tg.Prefix), WithReadBlock(20 * time.Millisecond),
		WithBackoff(time.Millisecond, time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestRedisDurableGroupGetsWhatWasPublishedWhileDown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		first := newTestRedis(t, tg, tg.Client)
		mustSub(t, first, "orders.#", func(context.Context, *Message) error { return nil }, WithGroup("email"))
		require.NoError(t, first.Close()) // every consumer of "email" is down now

		pub := newTestRedis(t, tg, tg.Client)
		for _, p := range []string{"1", "2", "3"} {
			mustPub(t, pub, "orders.created", p)
		}
		c := newCollector()
		again := newTestRedis(t, tg, tg.Client)
		mustSub(t, again, "orders.#", c.handler("email"), WithGroup("email"))
		require.Equal(t, []string{"1", "2", "3"}, payloads(c.wait(t, 3)))

		// A durable group is bound to its pattern until DeleteGroup.
		_, err := again.Subscribe(ctx, "orders.created", c.handler("x"), WithGroup("email"))
		require.ErrorIs(t, err, ErrGroupBound)
		require.NoError(t, pub.DeleteGroup(ctx, "email"))
		n, err := tg.Client.Exists(ctx, pub.streamKey("email")).Result()
		require.NoError(t, err)
		require.Zero(t, n, "DeleteGroup deletes the stream")
	})
}

func TestRedisEphemeralGroupsAreCleanedUp(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		b := newTestRedis(t, tg, tg.Client)
		s := mustSub(t, b, "a.*", func(context.Context, *Message) error { return nil })
		require.Len(t, tg.Client.HGetAll(ctx, b.regKey).Val(), 1)
		require.NoError(t, s.Unsubscribe())
		require.Empty(t, tg.Client.HGetAll(ctx, b.regKey).Val(), "Unsubscribe unbinds")
		require.Zero(t, tg.Client.Exists(ctx, s.(*redisSub).stream).Val())

		if tg.Mini == nil {
			return // a crashed process's lease expires by the server's clock
		}
		c2, faults := tg.NewClient()
		crashed := newTestRedis(t, tg, c2)
		cs := mustSub(t, crashed, "a.*", func(context.Context, *Message) error { return nil })
		faults.Cut()
		tg.Advance(time.Hour)
		require.NoError(t, b.reap(ctx))
		require.Empty(t, tg.Client.HGetAll(ctx, b.regKey).Val(), "the dead process's group is reaped")
		require.Zero(t, tg.Client.Exists(ctx, cs.(*redisSub).stream).Val())
	})
}

func TestRedisStreamsAreTrimmed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		b := newTestRedis(t, tg, tg.Client, WithMaxLen(10))
		mustSub(t, b, "t", func(context.Context, *Message) error { return nil }, WithGroup("slow"))
		require.NoError(t, b.Close())
		p := newTestRedis(t, tg, tg.Client, WithMaxLen(10))
		for range 500 {
			mustPub(t, p, "t", "x")
		}
		n := tg.Client.XLen(ctx, p.streamKey("slow")).Val()
		require.LessOrEqual(t, n, int64(200), "MAXLEN ~ keeps the stream near its cap, delivered or not")
		require.GreaterOrEqual(t, n, int64(10))
	})
}

// A handler that runs for several visibility timeouts keeps its message:
// the heartbeat stops the other consumer of the group from reclaiming it.
// Either consumer may be the one that reads it first.
func TestRedisHeartbeatKeepsLongHandlers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini != nil {
			t.Skip("heartbeats against reclaim need the server's clock to run")
		}
		vis := WithVisibilityTimeout(150 * time.Millisecond)
		started, release := make(chan struct{}, 8), make(chan struct{})
		done := newCollector()
		holding := func(by string) Handler {
			return func(_ context.Context, m *Message) error {
				started <- struct{}{}
				<-release
				done.add(by, m)
				return nil
			}
		}
		a := newTestRedis(t, tg, tg.Client, vis)
		mustSub(t, a, "long", holding("a"), WithGroup("g"))
		c2, _ := tg.NewClient()
		b := newTestRedis(t, tg, c2, vis)
		mustSub(t, b, "long", holding("b"), WithGroup("g"))
		mustPub(t, a, "long", "x")
		recvOrFail(t, started)
		for range 6 { // 4 visibility timeouts
			time.Sleep(100 * time.Millisecond)
			require.Zero(t, len(started), "a live consumer's message was reclaimed by the other")
		}
		close(release)
		require.Equal(t, 1, done.wait(t, 1)[0].Attempt)
		settle()
		require.Equal(t, 1, done.len(), "delivered once")
	})
}

func TestRedisConfigErrors(t *testing.T) {
	_, err := NewRedis(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	tg := redistest.New(t, redistest.Mini)
	for _, o := range []RedisOption{WithPrefix("a{b"), WithMaxLen(0),
		WithVisibilityTimeout(time.Millisecond), WithBatch(0), WithTimeout(0), WithReadBlock(0), WithNamespace("")} {
		_, err := NewRedis(tg.Client, o)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	b, err := NewRedis(tg.Client)
	require.NoError(t, err)
	defer b.Close()
	h := func(context.Context, *Message) error { return nil }
	_, err = b.Subscribe(context.Background(), "a", h, WithQueueSize(2))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = b.Subscribe(context.Background(), "a", h, WithGroup("~x"))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestRedisRestartedConsumerResumesItsOwnPending(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c2, _ := tg.NewClient()
		crashed := newTestRedis(t, tg, c2)
		started := make(chan struct{})
		mustSub(t, crashed, "jobs", func(ctx context.Context, m *Message) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}, WithGroup("g"), WithConsumer("worker-1"))
		mustPub(t, crashed, "jobs", "j1")
		recvOrFail(t, started)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, crashed.Shutdown(ctx), ErrDrainTimeout) // j1 stays pending with worker-1

		// Restarted under its name, it gets j1 at once, not after the
		// visibility timeout (30s by default).
		c := newCollector()
		restarted := newTestRedis(t, tg, tg.Client)
		mustSub(t, restarted, "jobs", c.handler("w1"), WithGroup("g"), WithConsumer("worker-1"))
		gs := c.wait(t, 1)
		require.Equal(t, "j1", gs[0].Payload)
		require.Equal(t, 2, gs[0].Attempt)
	})
}

// TestRedisQueuedEntryIsNotReclaimed: a consumer holds what it read from
// the moment it read it. An entry waiting for a free worker is heartbeated
// like one in a handler, so another consumer does not reclaim it (the
// heartbeat used to cover handlers only, and such an entry was handled
// twice, with an inflated delivery count).
func TestRedisQueuedEntryIsNotReclaimed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini != nil {
			t.Skip("heartbeats against reclaim need the server's clock to run")
		}
		ctx := context.Background()
		vis := WithVisibilityTimeout(150 * time.Millisecond)
		a := newTestRedis(t, tg, tg.Client, vis)
		started, release := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		seen := newCollector()
		mustSub(t, a, "long", func(_ context.Context, m *Message) error {
			if string(m.Payload) == "1" {
				close(started)
				<-release
			}
			seen.add("a", m)
			return nil
		}, WithGroup("g")) // one worker
		mustPub(t, a, "long", "1")
		recvOrFail(t, started)
		mustPub(t, a, "long", "2")
		stream := a.streamKey("g")
		require.Eventually(t, func() bool { // a's reader has read 2; it waits for the worker
			return tg.Client.XPending(ctx, stream, "g").Val().Count == 2
		}, 5*time.Second, 5*time.Millisecond)

		c2, _ := tg.NewClient()
		b := newTestRedis(t, tg, c2, vis)
		mustSub(t, b, "long", seen.handler("b"), WithGroup("g"))
		for range 5 { // over 3 visibility timeouts
			time.Sleep(100 * time.Millisecond)
			require.Zero(t, seen.len(), "a live consumer's entry was reclaimed")
		}
		close(release)
		seen.wait(t, 2)
		settle()
		gs := seen.all()
		require.Equal(t, []string{"1", "2"}, payloads(gs))
		for _, g := range gs {
			require.Equal(t, "a", g.By)
			require.Equal(t, 1, g.Attempt, "delivery counts are not inflated")
		}
	})
}

// waitAcked waits until group g of stream holds no pending entry (acks
// are batched, asynchronously).
func waitAcked(t *testing.T, tg *redistest.Target, stream, g string) {
	t.Helper()
	require.Eventually(t, func() bool {
		p, err := tg.Client.XPending(context.Background(), stream, g).Result()
		return err == nil && p.Count == 0
	}, 5*time.Second, 5*time.Millisecond)
}

// TestRedisTrimKeepsWhatTheGroupHasNotAcknowledged: the reclaim pass trims
// what the group has acknowledged, never what it has not: messages
// published while every consumer is down survive it (up to WithMaxLen),
// and so do pending ones.
func TestRedisTrimKeepsWhatTheGroupHasNotAcknowledged(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		const capN = 1000
		first := newTestRedis(t, tg, tg.Client, WithMaxLen(capN))
		c := newCollector()
		s := mustSub(t, first, "t", c.handler("g"), WithGroup("g")).(*redisSub)
		for range 10 {
			mustPub(t, first, "t", "old")
		}
		c.wait(t, 10)
		stream := first.streamKey("g")
		waitAcked(t, tg, stream, "g")
		require.NoError(t, first.Close()) // every consumer of g is down

		p := newTestRedis(t, tg, tg.Client, WithMaxLen(capN))
		const n = 500 // below the cap
		for i := range n {
			mustPub(t, p, "t", strconv.Itoa(i))
		}
		s.tidy(ctx) // a trim pass while they are down
		require.Equal(t, int64(n), tg.Client.XLen(ctx, stream).Val(), "only the acknowledged entries are trimmed")

		// A consumer comes back; one message stays pending in a handler.
		again := newTestRedis(t, tg, tg.Client, WithMaxLen(capN))
		c2 := newCollector()
		held, release := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		s2 := mustSub(t, again, "t", func(ctx context.Context, m *Message) error {
			if string(m.Payload) == "100" {
				close(held)
				<-release
			}
			c2.add("g", m)
			return nil
		}, WithGroup("g"), WithWorkers(2)).(*redisSub)
		recvOrFail(t, held)
		require.Eventually(t, func() bool { return c2.len() == n-1 }, 10*time.Second, 5*time.Millisecond)
		require.Eventually(t, func() bool {
			return tg.Client.XPending(ctx, stream, "g").Val().Count == 1
		}, 5*time.Second, 5*time.Millisecond)
		s2.tidy(ctx)
		require.Equal(t, int64(n-100), tg.Client.XLen(ctx, stream).Val(), "the pending entry and the ones after it stay")
		close(release)
		gs := c2.wait(t, n)
		got := map[string]bool{}
		for _, g := range gs {
			got[g.Payload] = true
		}
		require.Len(t, got, n, "every message published while the group was down is delivered")
		waitAcked(t, tg, stream, "g")
		s2.tidy(ctx)
		require.Zero(t, tg.Client.XLen(ctx, stream).Val(), "an acknowledged backlog is trimmed")
	})
}

// TestRedisDeadConsumersAreDeleted: a process that dies leaves its
// (random) consumer name in its durable group; once it holds nothing and
// has been idle for several visibility timeouts, a live consumer's
// reclaim pass deletes it, so restarts do not grow the group forever.
func TestRedisDeadConsumersAreDeleted(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini != nil {
			t.Skip("miniredis's XINFO CONSUMERS reports no idle time (-1), so nothing is ever idle long enough to delete; runs on a real Redis and Cluster")
		}
		ctx := context.Background()
		vis := WithVisibilityTimeout(20 * time.Millisecond)
		c2, faults := tg.NewClient()
		crashed := newTestRedis(t, tg, c2, vis)
		c := newCollector()
		dead := mustSub(t, crashed, "t", c.handler("x"), WithGroup("g")).(*redisSub).consumer
		mustPub(t, crashed, "t", "1")
		c.wait(t, 1)
		stream := crashed.streamKey("g")
		waitAcked(t, tg, stream, "g")
		faults.Cut() // it dies: no leave
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_ = crashed.Shutdown(cctx)
		names := func() []string {
			var out []string
			for _, ci := range tg.Client.XInfoConsumers(ctx, stream, "g").Val() {
				out = append(out, ci.Name)
			}
			return out
		}
		require.Equal(t, []string{dead}, names())

		live := newTestRedis(t, tg, tg.Client, vis)
		ls := mustSub(t, live, "t", c.handler("y"), WithGroup("g")).(*redisSub)
		require.Eventually(t, func() bool { return !slices.Contains(names(), dead) },
			5*time.Second, 5*time.Millisecond, "the dead consumer is deleted")
		// Redis registers a consumer when it is first given an entry; the
		// live one is not deleted by its own pass.
		mustPub(t, live, "t", "2")
		require.Equal(t, "y", c.wait(t, 2)[1].By)
		waitAcked(t, tg, stream, "g")
		ls.tidy(ctx)
		require.Equal(t, []string{ls.consumer}, names())
	})
}
