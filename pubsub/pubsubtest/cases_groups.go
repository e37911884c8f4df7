package pubsubtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/pubsub"
)

// KilledConsumerRedelivered (Backend.Crash): the message a crashed
// process's handler held is delivered to another member of its group.
func KilledConsumerRedelivered(t *testing.T, be Backend) {
	if be.Crash == nil {
		t.Skip("the backend cannot crash a process (Backend.Crash)")
	}
	b := be.NewBus(t)
	other, kill := be.Crash(t, b)
	started := make(chan string, 1)
	subA := mustSub(t, other, "work.*", func(ctx context.Context, m *pubsub.Message) error {
		started <- string(m.Payload)
		<-ctx.Done() // the crash stops us mid-handler
		return ctx.Err()
	}, pubsub.WithGroup("workers"))
	mustPub(t, b, "work.item", "job-1")
	require.Equal(t, "job-1", recvOrFail(t, started))
	c := newCollector()
	mustSub(t, b, "work.*", c.handler("B"), pubsub.WithGroup("workers"))
	kill(subA)
	if be.Pass != nil {
		be.Pass(time.Hour)
	}
	require.Equal(t, "job-1", c.wait(t, 1)[0].Payload)
}

// DeclaredGroupKeepsEarlyMessages (pubsub.GroupDeclarer): a group declared
// before its first member keeps what is published meanwhile and delivers
// it to that member; declaring it again with its pattern is a no-op, with
// another pattern ErrGroupBound.
func DeclaredGroupKeepsEarlyMessages(t *testing.T, be Backend) {
	ctx := context.Background()
	b := be.NewBus(t)
	d, ok := b.(pubsub.GroupDeclarer)
	if !ok {
		t.Skip("the bus is not a pubsub.GroupDeclarer")
	}
	require.NoError(t, d.DeclareGroup(ctx, "early", "dg.*"))
	require.NoError(t, d.DeclareGroup(ctx, "early", "dg.*"), "declared again")
	require.ErrorIs(t, d.DeclareGroup(ctx, "early", "dg.#"), pubsub.ErrGroupBound)
	for _, p := range []string{"1", "2", "3"} {
		mustPub(t, b, "dg.x", p)
	}
	c := newCollector()
	mustSub(t, b, "dg.*", c.handler("first"), pubsub.WithGroup("early"))
	gs := c.wait(t, 3)
	if be.Features.OrderedWithOneWorker {
		require.Equal(t, []string{"1", "2", "3"}, payloads(gs))
	}
	c.waitUnique(t, 3)
}

// DurableGroupKeepsWhatWasPublishedWhileDown (DurableGroups): a group
// whose members are all down keeps its messages for the next member, on
// another bus.
func DurableGroupKeepsWhatWasPublishedWhileDown(t *testing.T, be Backend) {
	if !be.Features.DurableGroups {
		t.Skip("the bus has no durable groups (Features.DurableGroups)")
	}
	first := be.NewBus(t)
	mustSub(t, first, "orders.#", func(context.Context, *pubsub.Message) error { return nil }, pubsub.WithGroup("email"))
	require.NoError(t, first.Close()) // every member of "email" is down now

	pub := be.NewBus(t)
	for _, p := range []string{"1", "2", "3"} {
		mustPub(t, pub, "orders.created", p)
	}
	c := newCollector()
	again := be.NewBus(t)
	mustSub(t, again, "orders.#", c.handler("email"), pubsub.WithGroup("email"))
	gs := c.wait(t, 3)
	if be.Features.OrderedWithOneWorker {
		require.Equal(t, []string{"1", "2", "3"}, payloads(gs))
	}
}
