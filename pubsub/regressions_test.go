package pubsub

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// Regression tests of issue 12's pubsub defects.

// Defect 9: once its subscription was stopped, a group member's worker
// could take the message it had just handed back to the group (while the
// other members were busy) and call its handler again, with a cancelled
// context (and, in the conformance suite, block there for good).
func TestMemoryStoppedMemberIsNotCalledAgain(t *testing.T) {
	for run := range 200 {
		b := NewMemory(WithDrainTimeout(time.Millisecond), WithBackoff(0, 0))
		var calls, late atomic.Int32
		started := make(chan struct{}, 16)
		a := mustSub(t, b, "w", func(ctx context.Context, m *Message) error {
			if ctx.Err() != nil {
				late.Add(1)
			}
			calls.Add(1)
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}, WithGroup("g"))
		mustPub(t, b, "w", "x")
		recvOrFail(t, started) // a holds x
		busy, release := make(chan struct{}), make(chan struct{})
		other := newCollector()
		mustSub(t, b, "w", func(ctx context.Context, m *Message) error {
			if string(m.Payload) == "y" {
				close(busy)
				<-release
			}
			other.add("b", m)
			return nil
		}, WithGroup("g"))
		mustPub(t, b, "w", "y")
		recvOrFail(t, busy) // the other member is busy: x waits in the queue once a hands it back
		require.ErrorIs(t, a.Unsubscribe(), ErrDrainTimeout)
		close(release)
		require.Len(t, other.wait(t, 2), 2, "the other member gets both messages")
		require.Zero(t, late.Load(), "run %d: a stopped member's handler was called with a cancelled context", run)
		require.Equal(t, int32(1), calls.Load(), "run %d: the stopped member was called again", run)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, b.Shutdown(ctx)) // not Close: its drain timeout is 1ms
		cancel()
	}
}

// Defects 8 and 11: absurd queue sizes panicked in Subscribe (makechan)
// or exhausted memory; they are configuration errors.
func TestQueueSizeIsBounded(t *testing.T) {
	ctx := context.Background()
	h := func(context.Context, *Message) error { return nil }
	for _, n := range []int{math.MaxInt, 1 << 40, MaxQueueSize + 1, 0, -1} {
		require.ErrorIs(t, NewMemory(WithQueueSize(n)).ConfigErr(), ErrInvalidConfig, "WithQueueSize(%d)", n)
	}
	b := NewMemory()
	defer b.Close()
	for _, n := range []int{math.MaxInt, 1 << 40} {
		_, err := b.Subscribe(ctx, "a", h, WithQueueSize(n))
		require.ErrorIs(t, err, ErrInvalidConfig, "Subscribe WithQueueSize(%d)", n)
	}
	mustSub(t, b, "a", h, WithQueueSize(MaxQueueSize))
	tg := redistest.New(t, redistest.Mini)
	_, err := NewBroadcast(tg.Client, WithQueueSize(math.MaxInt))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// Defect 11: a nil message panicked in PublishMessage.
func TestPublishMessageRejectsNil(t *testing.T) {
	ctx := context.Background()
	tg := redistest.New(t, redistest.Mini)
	mem := NewMemory()
	defer mem.Close()
	red := newTestRedis(t, tg, tg.Client)
	bc, err := NewBroadcast(tg.Client, WithPrefix(tg.Prefix))
	require.NoError(t, err)
	defer bc.Close()
	for name, p := range map[string]MessagePublisher{"memory": mem, "redis": red, "broadcast": bc} {
		require.ErrorIs(t, p.PublishMessage(ctx, nil), ErrInvalidConfig, name)
	}
}

// Durations whose arithmetic would overflow are refused, and the largest
// backoff allowed stays positive and capped.
func TestExtremeDurations(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	for _, o := range []RedisOption{WithTimeout(math.MaxInt64), WithReadBlock(math.MaxInt64),
		WithVisibilityTimeout(math.MaxInt64), WithTimeout(MaxTimeout + 1)} {
		_, err := NewRedis(tg.Client, o)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	d := delivery{backoffMin: time.Nanosecond, backoffMax: math.MaxInt64}
	for attempt := 1; attempt < 100; attempt++ {
		w := d.retryWait(attempt)
		require.Positive(t, w, "attempt %d", attempt)
	}
}

// loseNamespace deletes every key of b's namespace that the subscriptions
// subs use, as FLUSHALL or a restart without persistence would (the
// shared test server must not be flushed).
func loseNamespace(t *testing.T, tg *redistest.Target, b *Redis, subs ...*redisSub) {
	t.Helper()
	keys := []string{b.regKey, b.verKey, b.ephKey, b.deadKey}
	for _, s := range subs {
		keys = append(keys, s.stream, s.lease)
	}
	require.NoError(t, tg.Client.Del(context.Background(), keys...).Err())
}

// Defect 1, and the second half of defect 2: after Redis lost its data, a
// durable group never bound itself again, and Publish returned nil while
// routing every message to nobody. Now every running group binds again
// (counted in Stats.Rebinds), Publish reports ErrNoBinding until then,
// and a group deleted on purpose stays deleted.
func TestRedisGroupsRebindAfterRedisLosesData(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		opts := []RedisOption{WithTimeout(200 * time.Millisecond)}
		cs, faults := tg.NewClient()
		sub := newTestRedis(t, tg, cs, opts...)
		durable, plain := newCollector(), newCollector()
		gs := mustSub(t, sub, "orders.#", durable.handler("g"), WithGroup("g")).(*redisSub)
		ps := mustSub(t, sub, "orders.#", plain.handler("p")).(*redisSub)
		pub := newTestRedis(t, tg, tg.Client, opts...)
		mustPub(t, pub, "orders.created", "before")
		durable.wait(t, 1)
		plain.wait(t, 1)

		// Redis loses the namespace while the subscriber cannot reach it.
		faults.Hang()
		loseNamespace(t, tg, pub, gs, ps)
		err := pub.Publish(ctx, "orders.created", []byte("nobody"))
		require.ErrorIs(t, err, ErrNoBinding, "a message no subscription gets is not a success")
		faults.Heal()
		require.Eventually(t, func() bool { return sub.Stats().Rebinds == 2 }, 10*time.Second, 5*time.Millisecond,
			"the durable group and the plain subscription bind again")

		for i := range 10 {
			mustPub(t, pub, "orders.created", strconv.Itoa(i))
		}
		durable.waitUnique(t, 11)
		plain.waitUnique(t, 11)
		_, dups := durable.uniquePayloads()
		require.Zero(t, dups)

		// A group deleted on purpose is not bound again by its members.
		require.NoError(t, pub.DeleteGroup(ctx, "g"))
		settle()
		settle()
		require.Zero(t, tg.Client.Exists(ctx, gs.stream).Val(), "the deleted group stays deleted")
		require.Empty(t, tg.Client.HGet(ctx, pub.regKey, "g").Val())
		require.Equal(t, uint64(2), sub.Stats().Rebinds)
		mustPub(t, pub, "orders.created", "after delete") // not an error: the group is gone on purpose
	})
}

// The publishing process's own subscriptions: when Redis lost them, its
// Publish returns nil only for messages they get.
func TestRedisOwnSubscriptionsAreNotSkippedAfterDataLoss(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		b := newTestRedis(t, tg, tg.Client, WithTimeout(200*time.Millisecond))
		durable, plain := newCollector(), newCollector()
		gs := mustSub(t, b, "jobs.*", durable.handler("g"), WithGroup("g")).(*redisSub)
		ps := mustSub(t, b, "jobs.*", plain.handler("p")).(*redisSub)
		mustPub(t, b, "jobs.run", "before")
		durable.wait(t, 1)
		plain.wait(t, 1)
		loseNamespace(t, tg, b, gs, ps)
		accepted := 1
		for i := range 50 {
			err := b.Publish(ctx, "jobs.run", []byte(strconv.Itoa(i)))
			if err == nil {
				accepted++
				continue
			}
			require.ErrorIs(t, err, ErrNoBinding)
			time.Sleep(2 * time.Millisecond)
		}
		require.Eventually(t, func() bool { return b.Stats().Rebinds == 2 }, 10*time.Second, 5*time.Millisecond)
		durable.waitUnique(t, accepted)
		plain.waitUnique(t, accepted)
	})
}

// busGoroutines lists the goroutines running this package's code, except
// Redis calls given up on (they run in redisx's workers and end by the
// client's read timeout, 1s in redistest, or a blocking read's 10s more).
func busGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		mine := strings.Contains(g, "pubsub.(*redisSub)") || strings.Contains(g, "pubsub.(*memSub)") ||
			strings.Contains(g, "pubsub.stopRedisSubs") || strings.Contains(g, "pubsub.drainAll")
		if mine && !strings.Contains(g, "redisx.work(") {
			out = append(out, g)
		}
	}
	return out
}

func requireNoBusGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for len(busGoroutines()) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.Empty(t, busGoroutines(), "goroutines of the bus outlived it")
}

// Defect 6: Shutdown ignored its ctx (16s with a 1s deadline on a frozen
// Redis: subscriptions were unbound one after the other, 5s each), and
// Close took 11s with a 1s drain timeout. Both return by their deadline,
// plus 50ms, on every client, and stop the bus's goroutines.
func TestRedisShutdownReturnsByItsDeadline(t *testing.T) {
	const deadline, slack = 200 * time.Millisecond, 50 * time.Millisecond
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, copts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(copts...)
				start := func(opts ...RedisOption) *Redis {
					// A read under way at the deadline ends within the read
					// block (20ms) plus the timeout.
					b := newTestRedis(t, tg, c, append([]RedisOption{WithTimeout(200 * time.Millisecond)}, opts...)...)
					for i := range 4 {
						mustSub(t, b, "s."+strconv.Itoa(i), func(context.Context, *Message) error { return nil })
					}
					mustSub(t, b, "s.#", func(context.Context, *Message) error { return nil }, WithGroup("g"))
					return b
				}
				shut, closed := start(), start(WithDrainTimeout(deadline))
				faults.Hang()
				defer faults.Heal()

				// Within the deadline plus slack plus the wake-up delay a
				// loaded machine imposed meanwhile (redistest.WakeProbe).
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				late := redistest.StartWakeProbe()
				began := time.Now()
				err := shut.Shutdown(ctx)
				took := time.Since(began)
				wake, _ := late.Stop()
				require.LessOrEqual(t, took, deadline+slack+wake, "Shutdown")
				require.True(t, errors.Is(err, ErrDrainTimeout) || errors.Is(err, context.DeadlineExceeded), "err = %v", err)

				late = redistest.StartWakeProbe()
				began = time.Now()
				_ = closed.Close()
				took = time.Since(began)
				wake, _ = late.Stop()
				require.LessOrEqual(t, took, deadline+slack+wake, "Close")
				requireNoBusGoroutines(t)
			})
		}
	})
}
