package pubsubtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/pubsub"
)

// RetryThenSucceed: a failing handler gets the message again, with
// Attempt counting deliveries from 1, and nothing is dead-lettered once
// it succeeds.
func RetryThenSucceed(t *testing.T, be Backend) {
	b := be.NewBus(t)
	dead := newCollector()
	mustSub(t, b, pubsub.DefaultDeadTopic, dead.handler("dead"))
	var attempts []int
	var mu sync.Mutex
	done := make(chan struct{})
	mustSub(t, b, "pay.*", func(_ context.Context, m *pubsub.Message) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, m.Attempt)
		if m.Attempt < 3 {
			return errors.New("not yet")
		}
		close(done)
		return nil
	}, pubsub.WithMaxAttempts(5))
	mustPub(t, b, "pay.card", "x")
	recvOrFail(t, done)
	settle()
	mu.Lock()
	require.Equal(t, []int{1, 2, 3}, attempts)
	mu.Unlock()
	require.Zero(t, dead.len())
}

// DeadLetterAfterMaxAttempts: after MaxAttempts failures the message goes
// to the dead-letter topic with its payload and the MetaDead… metadata.
func DeadLetterAfterMaxAttempts(t *testing.T, be Backend) {
	b := be.NewBus(t)
	dead := newCollector()
	mustSub(t, b, pubsub.DefaultDeadTopic, dead.handler("dead"))
	var calls atomic.Int32
	mustSub(t, b, "pay.*", func(_ context.Context, m *pubsub.Message) error {
		calls.Add(1)
		return fmt.Errorf("card declined (attempt %d)", m.Attempt)
	}, pubsub.WithMaxAttempts(3), pubsub.WithGroup("payments"))
	mustPub(t, b, "pay.card", "p1")
	d := dead.wait(t, 1)[0]
	settle()
	require.Equal(t, int32(3), calls.Load())
	require.Equal(t, 1, dead.len())
	require.Equal(t, pubsub.DefaultDeadTopic, d.Topic)
	require.Equal(t, "p1", d.Payload)
	require.Equal(t, "pay.card", d.Metadata[pubsub.MetaDeadTopic])
	require.Equal(t, "card declined (attempt 3)", d.Metadata[pubsub.MetaDeadReason])
	require.Equal(t, "3", d.Metadata[pubsub.MetaDeadAttempts])
	require.Equal(t, "payments", d.Metadata[pubsub.MetaDeadGroup])
	require.NotEmpty(t, d.Metadata[pubsub.MetaDeadID])
}

// PanicIsAnError: a panicking handler does not crash the process; the
// panic counts as a failed delivery and ends in the dead-letter topic.
func PanicIsAnError(t *testing.T, be Backend) {
	b := be.NewBus(t)
	dead := newCollector()
	mustSub(t, b, pubsub.DefaultDeadTopic, dead.handler("dead"))
	var calls atomic.Int32
	mustSub(t, b, "boom.*", func(context.Context, *pubsub.Message) error {
		calls.Add(1)
		panic("kaboom")
	}, pubsub.WithMaxAttempts(2))
	mustPub(t, b, "boom.now", "p2")
	d := dead.wait(t, 1)[0]
	settle()
	require.Equal(t, int32(2), calls.Load())
	require.Contains(t, d.Metadata[pubsub.MetaDeadReason], "kaboom")
	require.Equal(t, "2", d.Metadata[pubsub.MetaDeadAttempts])
}

// StatsCount: Stats counts publishes, deliveries, failures, retries and
// dead letters.
func StatsCount(t *testing.T, be Backend) {
	b := be.NewBus(t)
	ok, dead := newCollector(), newCollector()
	mustSub(t, b, pubsub.DefaultDeadTopic, dead.handler("dead"))
	mustSub(t, b, "st.*", func(_ context.Context, m *pubsub.Message) error {
		if string(m.Payload) == "bad" {
			return errors.New("bad")
		}
		ok.add("s", m)
		return nil
	}, pubsub.WithMaxAttempts(2))
	mustPub(t, b, "st.x", "good")
	mustPub(t, b, "st.x", "bad")
	ok.wait(t, 1)
	dead.wait(t, 1)
	// Counters move once a handler has returned, or a dead letter is
	// stored: poll.
	require.Eventually(t, func() bool {
		st := b.Stats()
		return st.Delivered >= 2 && st.DeadLettered == 1
	}, waitLimit, time.Millisecond, "the good message and the dead letter are delivered, one dead letter counted")
	st := b.Stats()
	require.GreaterOrEqual(t, st.Published, uint64(2))
	require.GreaterOrEqual(t, st.Failed, uint64(2))
	require.GreaterOrEqual(t, st.Retried, uint64(1))
	require.Equal(t, uint64(1), st.DeadLettered)
}
