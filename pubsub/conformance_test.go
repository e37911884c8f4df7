package pubsub

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend is one Bus implementation under the conformance suite.
type backend struct {
	// newBus returns a bus, closed when the test ends. Buses made by one
	// test share topics and groups (on Redis: one namespace), as processes
	// of one fleet do.
	newBus func(t *testing.T, opts ...Option) Bus
	// process returns the bus standing for a second process, and a
	// function that crashes it: it stops talking to the broker, and the
	// messages its handlers hold are lost with it.
	process func(t *testing.T, first Bus, opts ...Option) (Bus, func(sub Subscription))
	// pass makes d of broker time pass (reclaim timeouts).
	pass func(d time.Duration)
	// lossless: every message is delivered exactly once (memory); else at
	// least once (Redis).
	lossless bool
	// loadN is how many messages the load test publishes.
	loadN int
}

var fast = []Option{WithBackoff(time.Millisecond, 2*time.Millisecond)}

func runConformance(t *testing.T, be backend) {
	ctx := context.Background()

	t.Run("WildcardRouting", func(t *testing.T) {
		b := be.newBus(t, fast...)
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
				if Match(p, tp) {
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
	})

	t.Run("SubscribeGetsOnlyLaterMessages", func(t *testing.T) {
		b := be.newBus(t, fast...)
		mustPub(t, b, "early.bird", "before")
		c := newCollector()
		mustSub(t, b, "early.*", c.handler("s"))
		mustPub(t, b, "early.bird", "after")
		require.Equal(t, []string{"after"}, payloads(c.wait(t, 1)))
		settle()
		require.Equal(t, 1, c.len())
	})

	t.Run("InvalidArguments", func(t *testing.T) {
		b := be.newBus(t, fast...)
		require.ErrorIs(t, b.Publish(ctx, "a.*", nil), ErrInvalidTopic)
		require.ErrorIs(t, b.Publish(ctx, "a..b", nil), ErrInvalidTopic)
		_, err := b.Subscribe(ctx, "a.b*", func(context.Context, *Message) error { return nil })
		require.ErrorIs(t, err, ErrInvalidTopic)
		_, err = b.Subscribe(ctx, "a", nil)
		require.ErrorIs(t, err, ErrInvalidConfig)
		_, err = b.Subscribe(ctx, "a", func(context.Context, *Message) error { return nil }, WithGroup("bad group"))
		require.ErrorIs(t, err, ErrInvalidConfig)
	})

	t.Run("GroupsShareAndEachGetsAll", func(t *testing.T) {
		b := be.newBus(t, fast...)
		c1, c2, plain := newCollector(), newCollector(), newCollector()
		mustSub(t, b, "jobs.*", c1.handler("g1a"), WithGroup("g1"))
		mustSub(t, b, "jobs.*", c1.handler("g1b"), WithGroup("g1"))
		mustSub(t, b, "jobs.*", c2.handler("g2"), WithGroup("g2"))
		mustSub(t, b, "jobs.#", plain.handler("plain"))
		_, err := b.Subscribe(ctx, "jobs.#", c1.handler("x"), WithGroup("g1"))
		require.ErrorIs(t, err, ErrGroupBound)
		const n = 200
		for i := range n {
			mustPub(t, b, "jobs.run", strconv.Itoa(i))
		}
		for _, c := range []*collector{c1, c2, plain} {
			gs := c.wait(t, n)
			ids := map[string]bool{}
			for _, g := range gs {
				ids[g.Payload] = true
			}
			require.Len(t, ids, n, "every message reaches every group")
		}
		settle()
		if be.lossless {
			require.Equal(t, n, c1.len(), "a group's message goes to one member")
		}
	})

	t.Run("RetryThenSucceed", func(t *testing.T) {
		b := be.newBus(t, fast...)
		dead := newCollector()
		mustSub(t, b, DefaultDeadTopic, dead.handler("dead"))
		var attempts []int
		var mu sync.Mutex
		done := make(chan struct{})
		mustSub(t, b, "pay.*", func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, m.Attempt)
			if m.Attempt < 3 {
				return errors.New("not yet")
			}
			close(done)
			return nil
		}, WithMaxAttempts(5))
		mustPub(t, b, "pay.card", "x")
		recvOrFail(t, done)
		settle()
		mu.Lock()
		require.Equal(t, []int{1, 2, 3}, attempts)
		mu.Unlock()
		require.Zero(t, dead.len())
	})

	t.Run("DeadLetterAfterMaxAttempts", func(t *testing.T) {
		b := be.newBus(t, fast...)
		dead := newCollector()
		mustSub(t, b, DefaultDeadTopic, dead.handler("dead"))
		var calls atomic.Int32
		mustSub(t, b, "pay.*", func(_ context.Context, m *Message) error {
			calls.Add(1)
			return fmt.Errorf("card declined (attempt %d)", m.Attempt)
		}, WithMaxAttempts(3), WithGroup("payments"))
		var pcalls atomic.Int32
		mustSub(t, b, "boom.*", func(_ context.Context, m *Message) error {
			pcalls.Add(1)
			panic("kaboom")
		}, WithMaxAttempts(2))
		mustPub(t, b, "pay.card", "p1")
		mustPub(t, b, "boom.now", "p2")
		gs := dead.wait(t, 2)
		settle()
		require.Equal(t, int32(3), calls.Load())
		require.Equal(t, int32(2), pcalls.Load())
		require.Len(t, dead.all(), 2)
		byTopic := map[string]got{}
		for _, g := range gs {
			require.Equal(t, DefaultDeadTopic, g.Topic)
			byTopic[g.Metadata[MetaDeadTopic]] = g
		}
		d := byTopic["pay.card"]
		require.Equal(t, "p1", d.Payload)
		require.Equal(t, "card declined (attempt 3)", d.Metadata[MetaDeadReason])
		require.Equal(t, "3", d.Metadata[MetaDeadAttempts])
		require.Equal(t, "payments", d.Metadata[MetaDeadGroup])
		require.NotEmpty(t, d.Metadata[MetaDeadID])
		p := byTopic["boom.now"]
		require.Contains(t, p.Metadata[MetaDeadReason], "kaboom")
		require.Equal(t, "2", p.Metadata[MetaDeadAttempts])
	})

	t.Run("OrderPerSubscription", func(t *testing.T) {
		b := be.newBus(t, fast...)
		c := newCollector()
		mustSub(t, b, "seq.#", c.handler("s"))
		const n = 500
		want := make([]string, n)
		for i := range n {
			want[i] = strconv.Itoa(i)
			mustPub(t, b, "seq.x", want[i])
		}
		require.Equal(t, want, payloads(c.wait(t, n)))
	})

	t.Run("KilledConsumerRedelivered", func(t *testing.T) {
		b := be.newBus(t, fast...)
		other, kill := be.process(t, b, fast...)
		started := make(chan string, 1)
		subA := mustSub(t, other, "work.*", func(ctx context.Context, m *Message) error {
			started <- string(m.Payload)
			<-ctx.Done() // the crash stops us mid-handler
			return ctx.Err()
		}, WithGroup("workers"))
		mustPub(t, b, "work.item", "job-1")
		require.Equal(t, "job-1", recvOrFail(t, started))
		c := newCollector()
		mustSub(t, b, "work.*", c.handler("B"), WithGroup("workers"))
		kill(subA)
		be.pass(time.Hour)
		gs := c.wait(t, 1)
		require.Equal(t, "job-1", gs[0].Payload)
	})

	t.Run("ManyPublishers", func(t *testing.T) {
		b := be.newBus(t, fast...)
		c := newCollector()
		mustSub(t, b, "load.*", c.handler("s"), WithWorkers(2))
		const pubs = 8
		per := be.loadN / pubs
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
		// Count distinct messages: on Redis a redelivery (at least once)
		// is a duplicate, not one more message.
		dups := c.waitUnique(t, pubs*per)
		if be.lossless {
			require.Zero(t, dups, "duplicates")
		} else if dups > 0 {
			t.Logf("%d duplicates (at-least-once redeliveries)", dups)
		}
	})

	t.Run("UnsubscribeStopsDelivery", func(t *testing.T) {
		b := be.newBus(t, fast...)
		c := newCollector()
		s := mustSub(t, b, "u.*", c.handler("s"))
		mustPub(t, b, "u.a", "1")
		c.wait(t, 1)
		require.NoError(t, s.Unsubscribe())
		require.ErrorIs(t, s.Unsubscribe(), ErrClosed)
		mustPub(t, b, "u.a", "2")
		settle()
		require.Equal(t, []string{"1"}, payloads(c.all()))
	})

	t.Run("CloseDrainsInFlight", func(t *testing.T) {
		base := runtime.NumGoroutine()
		b := be.newBus(t, fast...)
		started, release := make(chan struct{}, 1), make(chan struct{})
		var finished atomic.Bool
		mustSub(t, b, "slow.*", func(ctx context.Context, m *Message) error {
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
		require.ErrorIs(t, b.Publish(ctx, "slow.op", nil), ErrClosed)
		_, err := b.Subscribe(ctx, "slow.op", func(context.Context, *Message) error { return nil })
		require.ErrorIs(t, err, ErrClosed)
		require.NoError(t, b.Close(), "Close twice")
		checkNoLeak(t, base)
	})

	t.Run("DrainTimeoutCancelsHandlers", func(t *testing.T) {
		base := runtime.NumGoroutine()
		b := be.newBus(t, append(fast, WithDrainTimeout(20*time.Millisecond))...)
		started := make(chan struct{}, 1)
		cancelled := make(chan struct{})
		mustSub(t, b, "stuck.*", func(ctx context.Context, m *Message) error {
			started <- struct{}{}
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		})
		mustPub(t, b, "stuck.op", "x")
		recvOrFail(t, started)
		require.ErrorIs(t, b.Close(), ErrDrainTimeout)
		recvOrFail(t, cancelled)
		checkNoLeak(t, base)
	})

	t.Run("Concurrent", func(t *testing.T) {
		b := be.newBus(t, fast...)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 20 {
					s, err := b.Subscribe(ctx, "c."+strconv.Itoa(i)+".*", func(context.Context, *Message) error { return nil })
					if !assert.NoError(t, err) {
						return
					}
					assert.NoError(t, b.Publish(ctx, "c."+strconv.Itoa(j%4)+".x", nil))
					assert.NoError(t, s.Unsubscribe())
				}
			}()
		}
		wg.Wait()
	})
}
