package pubsubtest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/pubsub"
)

// WildcardRouting: every subscription gets exactly the messages whose
// topic its pattern matches ("*" one segment, "#" zero or more), once,
// at attempt 1, with an ID.
func WildcardRouting(t *testing.T, be Backend) {
	b := be.NewBus(t)
	c := newCollector()
	pats := []string{"orders.created", "orders.*", "#", "*.paid", "orders.#", "#.created", "a.#.z"}
	for _, p := range pats {
		mustSub(t, b, p, c.handler(p))
	}
	topics := []string{"orders.created", "orders.paid", "orders", "users.paid", "orders.eu.created", "a.z", "a.b.c.z"}
	want := 0
	expect := map[string][]string{}
	for _, tp := range topics {
		for _, p := range pats {
			if pubsub.Match(p, tp) {
				want++
				expect[p] = append(expect[p], tp)
			}
		}
		mustPub(t, b, tp, tp)
	}
	c.wait(t, want)
	settle()
	gs := c.all()
	require.Len(t, gs, want)
	seen := map[string][]string{}
	for _, g := range gs {
		require.Equal(t, g.Topic, g.Payload)
		require.Equal(t, 1, g.Attempt)
		require.NotEmpty(t, g.ID)
		seen[g.By] = append(seen[g.By], g.Topic)
	}
	for p := range expect {
		slices.Sort(expect[p])
		slices.Sort(seen[p])
	}
	require.Equal(t, expect, seen)
}

// SubscribeGetsOnlyLaterMessages: a plain subscription gets what is
// published after Subscribe returns, nothing from before.
func SubscribeGetsOnlyLaterMessages(t *testing.T, be Backend) {
	b := be.NewBus(t)
	mustPub(t, b, "early.bird", "before")
	c := newCollector()
	mustSub(t, b, "early.*", c.handler("s"))
	mustPub(t, b, "early.bird", "after")
	require.Equal(t, []string{"after"}, payloads(c.wait(t, 1)))
	settle()
	require.Equal(t, 1, c.len())
}

// InvalidArguments: malformed topics and patterns wrap ErrInvalidTopic; a
// nil handler and a bad group name wrap ErrInvalidConfig.
func InvalidArguments(t *testing.T, be Backend) {
	ctx := context.Background()
	b := be.NewBus(t)
	require.ErrorIs(t, b.Publish(ctx, "a.*", nil), pubsub.ErrInvalidTopic)
	require.ErrorIs(t, b.Publish(ctx, "a..b", nil), pubsub.ErrInvalidTopic)
	_, err := b.Subscribe(ctx, "a.b*", func(context.Context, *pubsub.Message) error { return nil })
	require.ErrorIs(t, err, pubsub.ErrInvalidTopic)
	_, err = b.Subscribe(ctx, "a", nil)
	require.ErrorIs(t, err, pubsub.ErrInvalidConfig)
	_, err = b.Subscribe(ctx, "a", func(context.Context, *pubsub.Message) error { return nil }, pubsub.WithGroup("bad group"))
	require.ErrorIs(t, err, pubsub.ErrInvalidConfig)
}

// GroupsShareAndEachGetsAll: members of a group share its messages, every
// group and plain subscription gets every message, and a group is bound
// to one pattern (ErrGroupBound).
func GroupsShareAndEachGetsAll(t *testing.T, be Backend) {
	ctx := context.Background()
	b := be.NewBus(t)
	c1, c2, plain := newCollector(), newCollector(), newCollector()
	mustSub(t, b, "jobs.*", c1.handler("g1a"), pubsub.WithGroup("g1"))
	mustSub(t, b, "jobs.*", c1.handler("g1b"), pubsub.WithGroup("g1"))
	mustSub(t, b, "jobs.*", c2.handler("g2"), pubsub.WithGroup("g2"))
	mustSub(t, b, "jobs.#", plain.handler("plain"))
	_, err := b.Subscribe(ctx, "jobs.#", c1.handler("x"), pubsub.WithGroup("g1"))
	require.ErrorIs(t, err, pubsub.ErrGroupBound)
	const n = 200
	for i := range n {
		mustPub(t, b, "jobs.run", strconv.Itoa(i))
	}
	for _, c := range []*collector{c1, c2, plain} {
		c.waitEvery(t, be, n)
	}
	settle()
	if be.Features.ExactlyOnce {
		require.Equal(t, n, c1.len(), "a group's message goes to one member")
	}
}

// OrderPerSubscription: one worker delivers one publisher's messages in
// publish order (OrderedWithOneWorker).
func OrderPerSubscription(t *testing.T, be Backend) {
	if !be.Features.OrderedWithOneWorker {
		t.Skip("the bus does not promise order (Features.OrderedWithOneWorker)")
	}
	b := be.NewBus(t)
	c := newCollector()
	mustSub(t, b, "seq.#", c.handler("s"))
	const n = 500
	want := make([]string, n)
	for i := range n {
		want[i] = strconv.Itoa(i)
		mustPub(t, b, "seq.x", want[i])
	}
	require.Equal(t, want, payloads(c.wait(t, n)))
}

// ManyPublishers: concurrent publishers lose nothing (LoadMessages in
// all); duplicates only where the bus delivers at least once. A delivery
// lost on its way under the load (a read whose reply came after its
// caller gave up) may come back as late as Features.Redelivery.
func ManyPublishers(t *testing.T, be Backend) {
	ctx := context.Background()
	b := be.NewBus(t)
	c := newCollector()
	mustSub(t, b, "load.*", c.handler("s"), pubsub.WithWorkers(2))
	const pubs = 8
	per := be.Features.LoadMessages / pubs
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "load.p" + strconv.Itoa(p)
			for i := range per {
				if err := b.Publish(ctx, topic, []byte(strconv.Itoa(p*per+i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	dups := c.waitEvery(t, be, pubs*per)
	if be.Features.ExactlyOnce {
		require.Zero(t, dups, "duplicates")
	} else if dups > 0 {
		t.Logf("%d duplicates (at-least-once redeliveries)", dups)
	}
}

// Concurrent: Subscribe, Publish and Unsubscribe from several goroutines
// at once (run with -race).
func Concurrent(t *testing.T, be Backend) {
	ctx := context.Background()
	b := be.NewBus(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				s, err := b.Subscribe(ctx, "c."+strconv.Itoa(i)+".*", func(context.Context, *pubsub.Message) error { return nil })
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, b.Publish(ctx, "c."+strconv.Itoa(j%4)+".x", nil))
				assert.NoError(t, s.Unsubscribe())
			}
		}()
	}
	wg.Wait()
}
