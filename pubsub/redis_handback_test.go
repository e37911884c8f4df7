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

// heldCount is how many entries s holds (read or claimed, not yet settled).
func heldCount(s *redisSub) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// A consumer that stops (Unsubscribe, Close, or the end of its Subscribe
// context) while holding messages it read but never started hands them
// back at once: the next consumer of the group gets every one of them,
// once each and as their first delivery, well within the visibility
// timeout (which it would otherwise have waited for).
func TestRedisStopHandsBackUnstartedMessages(t *testing.T) {
	stops := map[string]func(b *Redis, s Subscription, cancel context.CancelFunc) error{
		"Unsubscribe": func(_ *Redis, s Subscription, _ context.CancelFunc) error { return s.Unsubscribe() },
		"Close":       func(b *Redis, _ Subscription, _ context.CancelFunc) error { return b.Close() },
		"ctx": func(_ *Redis, s Subscription, cancel context.CancelFunc) error {
			cancel()
			return s.Unsubscribe() // waits for the end the ctx began
		},
	}
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, stop := range stops {
			t.Run(name, func(t *testing.T) {
				const n = 10
				ctx := context.Background()
				group := "work-" + randHex(4)
				pub := newTestRedis(t, tg, tg.Client)
				require.NoError(t, pub.DeclareGroup(ctx, group, "jobs.#"))
				var want []string
				for i := range n {
					want = append(want, strconv.Itoa(i))
					mustPub(t, pub, "jobs.x", want[i])
				}

				first := newTestRedis(t, tg, tg.Client, WithBatch(n))
				started := make(chan string, n)
				subCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				sub, err := first.Subscribe(subCtx, "jobs.#", func(ctx context.Context, m *Message) error {
					started <- string(m.Payload)
					<-Stopping(ctx) // the only worker is busy until the stop
					return nil
				}, WithGroup(group), WithWorkers(1))
				require.NoError(t, err)
				handled := recvOrFail(t, started)
				require.Eventually(t, func() bool { return heldCount(sub.(*redisSub)) == n }, 10*time.Second,
					time.Millisecond, "the reader holds the whole batch, one message started")

				stopped := time.Now()
				require.NoError(t, stop(first, sub, cancel))
				require.Len(t, started, 0, "a stopping subscription starts nothing new")
				require.Equal(t, uint64(n-1), first.Stats().HandedBack, "the unstarted messages were handed back")

				c := newCollector()
				next := newTestRedis(t, tg, tg.Client)
				mustSub(t, next, "jobs.#", c.handler("next"), WithGroup(group))
				c.wait(t, n-1)
				elapsed := time.Since(stopped)
				require.Less(t, elapsed, DefaultVisibility/6,
					"handed back at once, not after the visibility timeout (%v)", DefaultVisibility)
				settle()
				got := c.all()
				require.Len(t, got, n-1, "none lost, none twice")
				var payloads []string
				for _, g := range got {
					payloads = append(payloads, g.Payload)
					require.Equal(t, 1, g.Attempt, "a delivery never made does not count")
				}
				slices.Sort(payloads)
				rest := slices.DeleteFunc(slices.Clone(want), func(p string) bool { return p == handled })
				slices.Sort(rest)
				require.Equal(t, rest, payloads, "every unstarted message, and not the one handled")
			})
		}
	})
}
