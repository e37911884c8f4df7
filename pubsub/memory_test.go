package pubsub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryConfigErrors(t *testing.T) {
	for _, o := range []MemoryOption{WithQueueSize(0), WithWorkers(0), WithMaxAttempts(0), WithBackoff(-1, 0),
		WithBackoff(2, 1), WithOverflow(0), WithDrainTimeout(0), WithClock(nil), WithDeadLetterTopic("a.*"),
		WithObserver(nil), nil} {
		b := NewMemory(o)
		require.ErrorIs(t, b.ConfigErr(), ErrInvalidConfig)
		require.ErrorIs(t, b.Publish(context.Background(), "a", nil), ErrInvalidConfig)
		_, err := b.Subscribe(context.Background(), "a", func(context.Context, *Message) error { return nil })
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	b := NewMemory()
	defer b.Close()
	_, err := b.Subscribe(context.Background(), "a", func(context.Context, *Message) error { return nil }, WithConsumer("c"))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// blockedSub subscribes a handler that holds the first message until
// release is closed, so the queue behind it fills up.
func blockedSub(t *testing.T, b *Memory, c *collector, opts ...SubscribeOption) (release chan struct{}) {
	t.Helper()
	started := make(chan struct{})
	release = make(chan struct{})
	first := true
	mustSub(t, b, "q.#", func(ctx context.Context, m *Message) error {
		if first {
			first = false
			close(started)
			<-release
		}
		c.add("s", m)
		return nil
	}, opts...)
	mustPub(t, b, "q.x", "0")
	<-started
	return release
}

func TestMemoryOverflowPolicies(t *testing.T) {
	ctx := context.Background()
	t.Run("DropOldest", func(t *testing.T) {
		b := NewMemory()
		defer b.Close()
		c := newCollector()
		release := blockedSub(t, b, c, WithQueueSize(2), WithOverflow(OverflowDropOldest))
		for _, p := range []string{"1", "2", "3", "4"} {
			mustPub(t, b, "q.x", p)
		}
		close(release)
		require.Equal(t, []string{"0", "3", "4"}, payloads(c.wait(t, 3)))
		require.Equal(t, uint64(2), b.Stats().DroppedOldest)
	})
	t.Run("DropNewest", func(t *testing.T) {
		b := NewMemory()
		defer b.Close()
		c := newCollector()
		release := blockedSub(t, b, c, WithQueueSize(2), WithOverflow(OverflowDropNewest))
		for _, p := range []string{"1", "2", "3", "4"} {
			mustPub(t, b, "q.x", p)
		}
		close(release)
		require.Equal(t, []string{"0", "1", "2"}, payloads(c.wait(t, 3)))
		require.Equal(t, uint64(2), b.Stats().DroppedNewest)
	})
	t.Run("Error", func(t *testing.T) {
		b := NewMemory()
		defer b.Close()
		c, other := newCollector(), newCollector()
		mustSub(t, b, "q.#", other.handler("other"))
		release := blockedSub(t, b, c, WithQueueSize(1), WithOverflow(OverflowError))
		mustPub(t, b, "q.x", "1")
		require.ErrorIs(t, b.Publish(ctx, "q.x", []byte("2")), ErrQueueFull)
		close(release)
		require.Equal(t, []string{"0", "1"}, payloads(c.wait(t, 2)))
		require.Len(t, other.wait(t, 3), 3, "the other subscription got the rejected message")
		require.Equal(t, uint64(1), b.Stats().Rejected)
	})
	t.Run("BlockWaitsForRoomOrContext", func(t *testing.T) {
		b := NewMemory()
		defer b.Close()
		c := newCollector()
		release := blockedSub(t, b, c, WithQueueSize(1))
		mustPub(t, b, "q.x", "1")
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := b.Publish(cctx, "q.x", []byte("lost"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		published := make(chan error, 1)
		go func() { published <- b.Publish(ctx, "q.x", []byte("2")) }()
		select {
		case err := <-published:
			t.Fatalf("publish to a full queue returned %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		close(release)
		require.NoError(t, recvOrFail(t, published))
		require.Equal(t, []string{"0", "1", "2"}, payloads(c.wait(t, 3)))
		require.Zero(t, b.Stats().DroppedNewest+b.Stats().DroppedOldest+b.Stats().Rejected)
	})
}

func TestMemoryStats(t *testing.T) {
	b := NewMemory(WithBackoff(0, 0), WithMaxAttempts(2))
	defer b.Close()
	dead := newCollector()
	mustSub(t, b, DefaultDeadTopic, func(_ context.Context, m *Message) error { dead.add("d", m); return errors.New("no") })
	mustSub(t, b, "s.*", func(_ context.Context, m *Message) error {
		if string(m.Payload) == "bad" {
			return errors.New("bad")
		}
		return nil
	})
	mustPub(t, b, "s.x", "ok")
	mustPub(t, b, "s.x", "bad")
	dead.wait(t, 2) // the dead letter is tried twice, then dropped
	require.Eventually(t, func() bool { return b.Stats().DeadDropped == 1 }, time.Second, time.Millisecond)
	st := b.Stats()
	require.Equal(t, Stats{Published: 2, Delivered: 1, Failed: 4, Retried: 2, DeadLettered: 1, DeadDropped: 1}, st)
}

func TestMemoryWorkersRunConcurrently(t *testing.T) {
	b := NewMemory()
	defer b.Close()
	const w = 4
	in := make(chan struct{}, w)
	release := make(chan struct{})
	mustSub(t, b, "w", func(context.Context, *Message) error {
		in <- struct{}{}
		<-release
		return nil
	}, WithWorkers(w))
	for range w {
		mustPub(t, b, "w", "x")
	}
	for range w {
		recvOrFail(t, in) // all w handlers are in at once
	}
	close(release)
}

func TestMemoryPublishAllocsOnce(t *testing.T) {
	b := NewMemory(WithQueueSize(1 << 16))
	defer b.Close()
	ctx := context.Background()
	for i := range 10 {
		mustSub(t, b, "orders.*", func(context.Context, *Message) error { return nil }, WithGroup("g"+string(rune('a'+i))))
	}
	payload := []byte("x")
	allocs := testing.AllocsPerRun(1000, func() { _ = b.Publish(ctx, "orders.created", payload) })
	require.LessOrEqual(t, allocs, 1.0)
}

// A memory group retires with its last member: what is published then
// reaches nobody in it, and its name is free for another pattern.
func TestMemoryGroupRetiresWithItsLastMember(t *testing.T) {
	b := NewMemory()
	defer b.Close()
	first := newCollector()
	s1 := mustSub(t, b, "a.*", first.handler("1"), WithGroup("g"))
	s2 := mustSub(t, b, "a.*", first.handler("2"), WithGroup("g"))
	require.NoError(t, s1.Unsubscribe())
	mustPub(t, b, "a.x", "kept") // one member left
	first.wait(t, 1)
	require.NoError(t, s2.Unsubscribe())
	mustPub(t, b, "a.x", "lost") // the group is gone
	later := newCollector()
	mustSub(t, b, "b.*", later.handler("3"), WithGroup("g")) // bound to another pattern: a new group
	mustPub(t, b, "a.x", "not for b")
	mustPub(t, b, "b.x", "new")
	require.Equal(t, []string{"new"}, payloads(later.wait(t, 1)))
	settle()
	require.Equal(t, []string{"kept"}, payloads(first.all()))
	require.Equal(t, 1, later.len())
}
