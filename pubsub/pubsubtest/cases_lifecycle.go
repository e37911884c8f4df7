package pubsubtest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/pubsub"
)

// promptly bounds a stop that must not wait out a drain timeout (10s by
// default): generous for a loaded machine and a reclaim pass (1s).
const promptly = 3 * time.Second

// UnsubscribeStopsDelivery: nothing is delivered after Unsubscribe, and
// a second Unsubscribe returns ErrClosed.
func UnsubscribeStopsDelivery(t *testing.T, be Backend) {
	b := be.NewBus(t)
	c := newCollector()
	s := mustSub(t, b, "u.*", c.handler("s"))
	mustPub(t, b, "u.a", "1")
	c.wait(t, 1)
	require.NoError(t, s.Unsubscribe())
	require.ErrorIs(t, s.Unsubscribe(), pubsub.ErrClosed)
	mustPub(t, b, "u.a", "2")
	settle()
	require.Equal(t, []string{"1"}, payloads(c.all()))
}

// SubscribeContextEndsSubscription: cancelling the context given to
// Subscribe ends the subscription: its goroutines stop, nothing is
// delivered afterwards, and Unsubscribe then returns nil.
func SubscribeContextEndsSubscription(t *testing.T, be Backend) {
	b := be.NewBus(t)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCollector()
	s, err := b.Subscribe(ctx, "cx.*", c.handler("s"), fast)
	require.NoError(t, err)
	mustPub(t, b, "cx.a", "1")
	c.wait(t, 1)
	cancel()
	checkNoLeak(t, base)
	require.NoError(t, s.Unsubscribe(), "Unsubscribe after the context ended")
	require.NoError(t, s.Unsubscribe(), "and again")
	mustPub(t, b, "cx.a", "2")
	settle()
	require.Equal(t, []string{"1"}, payloads(c.all()))
}

// CloseDrainsInFlight: Close waits for a running handler, then Publish
// and Subscribe fail with ErrClosed, a second Close returns nil, and no
// goroutine of the bus is left.
func CloseDrainsInFlight(t *testing.T, be Backend) {
	ctx := context.Background()
	base := runtime.NumGoroutine()
	b := be.NewBus(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var finished atomic.Bool
	mustSub(t, b, "slow.*", func(context.Context, *pubsub.Message) error {
		started <- struct{}{}
		<-release
		finished.Store(true)
		return nil
	})
	mustPub(t, b, "slow.op", "x")
	recvOrFail(t, started)
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a handler ran", err)
	case <-time.After(30 * time.Millisecond):
	}
	close(release)
	require.NoError(t, recvOrFail(t, closed))
	require.True(t, finished.Load())
	require.ErrorIs(t, b.Publish(ctx, "slow.op", nil), pubsub.ErrClosed)
	_, err := b.Subscribe(ctx, "slow.op", func(context.Context, *pubsub.Message) error { return nil })
	require.ErrorIs(t, err, pubsub.ErrClosed)
	require.NoError(t, b.Close(), "Close twice")
	checkNoLeak(t, base)
}

// ShutdownDeadlineCancelsHandlers: at Shutdown's deadline the handlers'
// contexts are cancelled and it returns ErrDrainTimeout.
func ShutdownDeadlineCancelsHandlers(t *testing.T, be Backend) {
	base := runtime.NumGoroutine()
	b := be.NewBus(t)
	started := make(chan struct{}, 1)
	cancelled := make(chan struct{})
	mustSub(t, b, "stuck.*", func(ctx context.Context, _ *pubsub.Message) error {
		started <- struct{}{}
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	})
	mustPub(t, b, "stuck.op", "x")
	recvOrFail(t, started)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Shutdown(ctx), pubsub.ErrDrainTimeout)
	recvOrFail(t, cancelled)
	checkNoLeak(t, base)
}

// handingBack returns a handler that reports the message it got on
// started, then waits for its subscription to stop and hands the message
// back.
func handingBack(started chan<- string) pubsub.Handler {
	return func(ctx context.Context, m *pubsub.Message) error {
		started <- string(m.Payload)
		select {
		case <-pubsub.Stopping(ctx):
			return fmt.Errorf("stopping: %w", pubsub.ErrHandBack)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HandBackOnUnsubscribe: a handler that returns ErrHandBack once its
// subscription is stopping lets Unsubscribe return at once (not after
// the drain timeout), and another member of the group gets the message.
func HandBackOnUnsubscribe(t *testing.T, be Backend) {
	b := be.NewBus(t)
	started := make(chan string, 1)
	a := mustSub(t, b, "hb.*", handingBack(started), pubsub.WithGroup("hb"))
	mustPub(t, b, "hb.job", "job")
	require.Equal(t, "job", recvOrFail(t, started))
	c := newCollector()
	mustSub(t, b, "hb.*", c.handler("other"), pubsub.WithGroup("hb"))
	began := time.Now()
	require.NoError(t, a.Unsubscribe())
	require.Less(t, time.Since(began), promptly, "Unsubscribe waited for the drain timeout")
	require.Equal(t, "job", c.wait(t, 1)[0].Payload, "the other member gets the message handed back")
	require.Eventually(t, func() bool { return b.Stats().HandedBack >= 1 }, waitLimit, time.Millisecond)
}

// HandBackOnShutdown (DurableGroups): Shutdown returns at once when the
// handler hands its message back, and the message reaches a member that
// subscribes afterwards, on another bus.
func HandBackOnShutdown(t *testing.T, be Backend) {
	if !be.Features.DurableGroups {
		t.Skip("a message handed back at shutdown needs a durable group (Features.DurableGroups)")
	}
	first := be.NewBus(t)
	started := make(chan string, 1)
	mustSub(t, first, "hs.*", handingBack(started), pubsub.WithGroup("hs"))
	mustPub(t, first, "hs.job", "job")
	require.Equal(t, "job", recvOrFail(t, started))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	require.NoError(t, first.Shutdown(ctx))
	require.Less(t, time.Since(began), promptly, "Shutdown waited for the handler")

	next := be.NewBus(t)
	c := newCollector()
	mustSub(t, next, "hs.*", c.handler("next"), pubsub.WithGroup("hs"))
	require.Equal(t, "job", c.wait(t, 1)[0].Payload, "a new member gets the message handed back")
}
