package pubsub

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// blocked is a handler that signals each call on started and returns once
// release is closed, or when the bus stops it: a handler that could not
// signal (nobody reads started any more) must not outlive its bus.
func blocked(started chan<- string, release <-chan struct{}) Handler {
	return func(ctx context.Context, m *Message) error {
		select {
		case started <- string(m.Payload):
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitDepths polls b until its depths are want, failing with the last read
// after 10s.
func waitDepths(t *testing.T, b DepthReporter, want []Depth) {
	t.Helper()
	var got []Depth
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err = b.Depths(context.Background())
		if err == nil && depthsEqual(got, want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func depthsEqual(a, b []Depth) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Memory: one worker holds a message, the rest wait in the queue; a
// declared group without members keeps all; once handlers return, zero.
func TestMemoryDepths(t *testing.T) {
	b := NewMemory(WithQueueSize(16))
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	require.NoError(t, b.DeclareGroup(ctx, "later", "d.#"))
	started, release := make(chan string, 16), make(chan struct{})
	mustSub(t, b, "d.*", blocked(started, release), WithGroup("workers"))
	mustSub(t, b, "d.x", blocked(started, release))
	for i := range 5 {
		mustPub(t, b, "d.x", strconv.Itoa(i))
	}
	recvOrFail(t, started)
	recvOrFail(t, started)
	waitDepths(t, b, []Depth{
		{Pattern: "d.x", Consumers: 1, Queued: 4, InFlight: 1},
		{Group: "later", Pattern: "d.#", Consumers: 0, Queued: 5},
		{Group: "workers", Pattern: "d.*", Consumers: 1, Queued: 4, InFlight: 1},
	})
	close(release)
	waitDepths(t, b, []Depth{
		{Pattern: "d.x", Consumers: 1},
		{Group: "later", Pattern: "d.#", Consumers: 0, Queued: 5},
		{Group: "workers", Pattern: "d.*", Consumers: 1},
	})
	require.NoError(t, b.Close())
	ds, err := b.Depths(ctx)
	require.NoError(t, err)
	require.Empty(t, ds, "a closed bus has no queues")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = NewMemory().Depths(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	_, err = NewMemory(WithQueueSize(0)).Depths(ctx)
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// A retry's backoff counts as in flight: the message is taken, not done.
func TestMemoryDepthsCountBackoffInFlight(t *testing.T) {
	b := NewMemory(WithBackoff(time.Hour, time.Hour), WithDrainTimeout(10*time.Millisecond))
	t.Cleanup(func() { _ = b.Close() })
	failed := make(chan struct{}, 1)
	mustSub(t, b, "d.*", func(context.Context, *Message) error {
		failed <- struct{}{}
		return errBoom
	}, WithGroup("g"))
	mustPub(t, b, "d.x", "1")
	mustPub(t, b, "d.x", "2")
	recvOrFail(t, failed)
	waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1, Queued: 1, InFlight: 1}})
}

func TestBroadcastDepths(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		b, err := NewBroadcast(tg.Client, WithPrefix(tg.Prefix))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		started, release := make(chan string, 4), make(chan struct{})
		mustSub(t, b, "d.*", blocked(started, release), WithGroup("g"))
		for i := range 3 {
			mustPub(t, b, "d.x", strconv.Itoa(i))
		}
		recvOrFail(t, started)
		waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1, Queued: 2, InFlight: 1}})
		close(release)
		waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1}})
	})
}

// Redis, reading one entry at a time: the worker holds one, the queue to
// the workers a second, the reader a third (waiting for room in the
// queue), the rest are the group's lag; a plain subscription reports no
// group name; a publisher reports nothing.
func TestRedisDepths(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		b := newTestRedis(t, tg, tg.Client, WithBatch(1))
		started, release := make(chan string, 16), make(chan struct{})
		mustSub(t, b, "d.*", blocked(started, release), WithGroup("workers"))
		mustSub(t, b, "d.x", blocked(started, release))
		pub := newTestRedis(t, tg, tg.Client)
		for i := range 6 {
			mustPub(t, pub, "d.x", strconv.Itoa(i))
		}
		recvOrFail(t, started)
		recvOrFail(t, started)
		waitDepths(t, b, []Depth{
			{Pattern: "d.x", Consumers: 1, Queued: 3, InFlight: 3},
			{Group: "workers", Pattern: "d.*", Consumers: 1, Queued: 3, InFlight: 3},
		})
		ds, err := pub.Depths(context.Background())
		require.NoError(t, err)
		require.Empty(t, ds, "a bus that only publishes consumes nothing")
		close(release)
		waitDepths(t, b, []Depth{
			{Pattern: "d.x", Consumers: 1},
			{Group: "workers", Pattern: "d.*", Consumers: 1},
		})
	})
}

// A deleted group is left out; its running members are still listed once
// it is bound again.
func TestRedisDepthsLeaveOutADeletedGroup(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		b := newTestRedis(t, tg, tg.Client)
		c := newCollector()
		mustSub(t, b, "d.*", c.handler("gone"), WithGroup("gone"))
		mustSub(t, b, "e.*", c.handler("kept"), WithGroup("kept"))
		mustPub(t, b, "e.x", "1") // miniredis makes a consumer with its first entry
		c.wait(t, 1)
		require.NoError(t, b.DeleteGroup(context.Background(), "gone"))
		waitDepths(t, b, []Depth{{Group: "kept", Pattern: "e.*", Consumers: 1}})
	})
}

// A Redis that stops answering costs Depths the bus's timeout, not the
// client's read timeout, and an error.
func TestRedisDepthsFailWithinTheTimeout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, faults := tg.NewClient()
		b := newTestRedis(t, tg, c, WithTimeout(100*time.Millisecond), WithDrainTimeout(100*time.Millisecond))
		col := newCollector()
		mustSub(t, b, "d.*", col.handler("g"), WithGroup("g"))
		// Published by a bus with the default timeout: 100ms is short
		// for a loaded machine.
		mustPub(t, newTestRedis(t, tg, tg.Client), "d.x", "1") // miniredis makes a consumer with its first entry
		col.wait(t, 1)
		waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1}})
		faults.Hang()
		start := time.Now()
		_, err := b.Depths(context.Background())
		elapsed := time.Since(start)
		faults.Heal()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, elapsed, 600*time.Millisecond)

		faults.Cut()
		_, err = b.Depths(context.Background())
		require.Error(t, err)
		faults.Heal()
		waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1}})
	})
}

// Where Redis gives no trusted lag (miniredis always; a real Redis before
// 7.0), Depths counts the undelivered entries itself up to
// DepthCountLimit, then reports a lower bound.
func TestRedisDepthsCountWithoutLag(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini == nil {
			t.Skip("a real Redis 7 reports the lag itself")
		}
		b := newTestRedis(t, tg, tg.Client, WithBatch(1))
		started, release := make(chan string, 1), make(chan struct{})
		defer close(release)
		mustSub(t, b, "d.*", blocked(started, release), WithGroup("g"))
		n := DepthCountLimit + 5
		for i := range n { // straight into miniredis: 1005 round trips are slow under -race
			_, err := tg.Mini.XAdd(b.streamKey("g"), "*", []string{"id", "m" + strconv.Itoa(i), "topic", "d.x", "payload", ""})
			require.NoError(t, err)
		}
		recvOrFail(t, started)
		waitDepths(t, b, []Depth{{Group: "g", Pattern: "d.*", Consumers: 1, Queued: DepthCountLimit, QueuedUnknown: true, InFlight: 3}})
	})
}
