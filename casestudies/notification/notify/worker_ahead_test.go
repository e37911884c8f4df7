package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// gatedSender sends at once, after wait, except a body "hold", which
// waits until release is closed (entered receives it first).
type gatedSender struct {
	wait    time.Duration
	entered chan struct{}
	release chan struct{}

	mu   sync.Mutex
	sent []string // bodies, in order
}

func newGatedSender(wait time.Duration) *gatedSender {
	return &gatedSender{wait: wait, entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gatedSender) Send(ctx context.Context, m senders.Message) error {
	if m.Body == "hold" {
		g.entered <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		time.Sleep(g.wait)
	}
	g.mu.Lock()
	g.sent = append(g.sent, m.Body)
	g.mu.Unlock()
	return nil
}

func (g *gatedSender) bodies() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.sent...)
}

// leases returns h's queue counts: ready and leased.
func leases(t *testing.T, h *harness) (ready, leased int64) {
	ready, _, leased, err := h.svc.queue.Len(context.Background())
	require.NoError(t, err)
	return ready, leased
}

// takeAheadScene runs one worker on Redis whose sender takes sendWait,
// delivers a first notification, then holds the send of a second while a
// third is posted; it returns with the second's send held.
func takeAheadScene(t *testing.T, tg *redistest.Target, sendWait time.Duration) (*harness, *gatedSender) {
	g := newGatedSender(sendWait)
	h := newHarnessAt(t, clockAtStart(), true, onRedis(tg.Client, tg.Prefix), func(c *Config) {
		c.Workers = 1
		c.Senders["push"] = g
	})
	first := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "first"})
	h.waitStatus(first, "push", Sent)
	eventually(t, func() bool { return queueEmpty(h) }, "the first delivery was never acked")

	h.post(map[string]any{"user_id": "bob", "channels": []string{"push"}, "body": "hold"})
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the held send never began")
	}
	h.post(map[string]any{"user_id": "cat", "channels": []string{"push"}, "body": "third"})
	return h, g
}

// finishTakeAheadScene lets the held send go and checks that the three
// notifications are sent once each, in turn, and acked.
func finishTakeAheadScene(t *testing.T, h *harness, g *gatedSender) {
	t.Helper()
	close(g.release)
	eventually(t, func() bool { return len(g.bodies()) == 3 }, "the third job was never sent")
	eventually(t, func() bool { return queueEmpty(h) }, "the deliveries were never acked")
	assert.Equal(t, []string{"first", "hold", "third"}, g.bodies(), "a delivery was sent twice or out of turn")
}

// After a quick send, a worker on Redis takes its next job while it
// delivers the one in hand; the job taken ahead is delivered next, once,
// and acked.
func TestWorkerTakesItsNextJobAheadAfterAQuickSend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		h, g := takeAheadScene(t, tg, 0)
		eventually(t, func() bool {
			ready, leased := leases(t, h)
			return ready == 0 && leased == 2
		}, "the third job was not taken ahead while the second was being sent")

		finishTakeAheadScene(t, h, g)
	})
}

// After a slow send (over takeAheadMaxSend) a worker takes one job at a
// time: a job that arrives meanwhile stays ready for whichever worker is
// free first, and a critical one behind it waits for no extra send.
func TestWorkerTakesNoJobAheadAfterASlowSend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		h, g := takeAheadScene(t, tg, 2*takeAheadMaxSend)
		eventually(t, func() bool {
			ready, _ := leases(t, h)
			return ready == 1
		}, "the third job never became ready")
		stays(t, func() bool {
			ready, leased := leases(t, h)
			return ready == 1 && leased == 1
		}, "the third job was taken ahead after a slow send")

		finishTakeAheadScene(t, h, g)
	})
}

// sendCounter counts each message's sends; slow bodies ("slow") take
// longer than takeAheadMaxSend.
type sendCounter struct {
	mu   sync.Mutex
	sent map[string]int // by message ID
}

func newSendCounter() *sendCounter { return &sendCounter{sent: map[string]int{}} }

func (c *sendCounter) Send(_ context.Context, m senders.Message) error {
	if m.Body == "slow" {
		time.Sleep(2 * takeAheadMaxSend)
	}
	c.mu.Lock()
	c.sent[m.ID]++
	c.mu.Unlock()
	return nil
}

// waitSent waits until n messages were sent.
func (c *sendCounter) waitSent(t *testing.T, n int) {
	t.Helper()
	eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.sent) == n
	}, "not every notification was sent")
}

// once checks that every message was sent once.
func (c *sendCounter) once(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, times := range c.sent {
		assert.Equal(t, 1, times, "%s sent %d times", id, times)
	}
}

// A worker whose sends alternate between quick and slow switches between
// taking ahead and not, and every delivery is sent once and acked.
func TestWorkerSwitchingBetweenQuickAndSlowSendsAcksEveryDelivery(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		send := newSendCounter()
		h := newHarnessAt(t, clockAtStart(), true, onRedis(tg.Client, tg.Prefix), func(c *Config) {
			c.Workers = 1
			c.Senders["push"] = send
		})
		const n = 24
		for i := range n {
			body := "quick"
			if i%3 == 2 {
				body = "slow"
			}
			h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": body})
			if i%5 == 4 {
				time.Sleep(3 * time.Millisecond) // now and then the queue runs dry
			}
		}
		send.waitSent(t, n)
		eventually(t, func() bool { return queueEmpty(h) }, "a delivery was never acked")
		send.once(t)
	})
}

// flakyTakes fails every third Next that carries an ack, before the ack
// reaches the queue (as a Redis that dropped the call would), and counts
// the failures.
type flakyTakes struct {
	queue.Queue
	mu     sync.Mutex
	carry  int // Nexts seen that carried an ack
	failed int
}

func (q *flakyTakes) Next(ctx context.Context, done *queue.Delivery) (*queue.Delivery, error) {
	if done != nil {
		q.mu.Lock()
		q.carry++
		fail := q.carry%3 == 0
		if fail {
			q.failed++
		}
		q.mu.Unlock()
		if fail {
			return nil, errors.New("injected: connection reset")
		}
	}
	return q.Queue.Next(ctx, done)
}

// A take that fails with an ack aboard — taken ahead or not, with another
// ack waiting behind it or not — leaves that ack to be made again: every
// delivery is sent once and acked.
func TestFailedTakesWithAnAckAboardLoseNoAck(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		send := newSendCounter()
		h := newHarnessAt(t, clockAtStart(), false, onRedis(tg.Client, tg.Prefix), func(c *Config) {
			c.Workers = 1
			c.Senders["push"] = send
		})
		flaky := &flakyTakes{Queue: h.svc.queue}
		h.svc.queue = flaky
		h.start()
		const n = 30
		for range n {
			h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
		}
		send.waitSent(t, n)
		eventually(t, func() bool { return queueEmpty(h) }, "an ack whose take failed was never made")
		flaky.mu.Lock()
		assert.NotZero(t, flaky.failed, "no take failed: the test tested nothing")
		flaky.mu.Unlock()
		send.once(t)
	})
}
