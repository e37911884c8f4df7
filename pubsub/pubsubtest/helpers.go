package pubsubtest

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/pubsub"
)

// fast is the retry backoff of the cases' subscriptions.
var fast = pubsub.WithBackoff(time.Millisecond, 2*time.Millisecond)

// waitLimit is how long a case waits for something that should happen
// soon, so that only a bus that never does it fails.
const waitLimit = 10 * time.Second

// got is what a handler saw: a copy, since handlers must not keep m.
type got struct {
	ID, Topic, Payload string
	Attempt            int
	Metadata           map[string]string
	By                 string
}

// collector records deliveries and lets cases wait for a count.
type collector struct {
	mu   sync.Mutex
	msgs []got
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) add(by string, m *pubsub.Message) {
	g := got{ID: m.ID, Topic: m.Topic, Payload: string(m.Payload), Attempt: m.Attempt, By: by}
	if m.Metadata != nil {
		g.Metadata = make(map[string]string, len(m.Metadata))
		for k, v := range m.Metadata {
			g.Metadata[k] = v
		}
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, g)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// handler records every message as seen by by and succeeds.
func (c *collector) handler(by string) pubsub.Handler {
	return func(_ context.Context, m *pubsub.Message) error {
		c.add(by, m)
		return nil
	}
}

func (c *collector) all() []got {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]got(nil), c.msgs...)
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// wait waits until at least n messages arrived, failing when none came
// for waitLimit.
func (c *collector) wait(t testing.TB, n int) []got {
	t.Helper()
	idle := time.NewTimer(waitLimit)
	defer idle.Stop()
	for c.len() < n {
		select {
		case <-c.ch:
			idle.Reset(waitLimit)
		case <-idle.C:
			t.Fatalf("got %d messages, want %d", c.len(), n)
		}
	}
	return c.all()
}

// unique returns how many distinct payloads arrived, and how many
// deliveries repeated one already seen (at-least-once redeliveries).
func (c *collector) unique() (unique, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool, len(c.msgs))
	for _, g := range c.msgs {
		if seen[g.Payload] {
			dups++
		}
		seen[g.Payload] = true
	}
	return len(seen), dups
}

// waitUnique waits until n distinct payloads arrived, failing when none
// came for waitLimit; it returns the duplicates seen.
func (c *collector) waitUnique(t testing.TB, n int) (dups int) {
	t.Helper()
	return c.waitUniqueIdle(t, n, waitLimit)
}

// waitEvery is waitUnique for a case that must see every message of a
// bus that may deliver one again only after its Features.Redelivery: it
// fails when none came for waitLimit plus that.
func (c *collector) waitEvery(t testing.TB, be Backend, n int) (dups int) {
	t.Helper()
	return c.waitUniqueIdle(t, n, waitLimit+be.Features.Redelivery)
}

func (c *collector) waitUniqueIdle(t testing.TB, n int, limit time.Duration) (dups int) {
	t.Helper()
	idle := time.NewTimer(limit)
	defer idle.Stop()
	for {
		unique, dups := c.unique()
		if unique >= n {
			return dups
		}
		select {
		case <-c.ch:
			idle.Reset(limit)
		case <-idle.C:
			t.Fatalf("got %d distinct messages (%d duplicates), want %d (none came for %v)", unique, dups, n, limit)
		}
	}
}

// settle gives deliveries that should not happen a chance to show up.
func settle() { time.Sleep(50 * time.Millisecond) }

func payloads(gs []got) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Payload
	}
	return out
}

// checkNoLeak fails t if goroutines started after base outlive the case
// by more than 2 seconds.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines: %d before, %d after\n%s", base, n, buf)
	}
}

func recvOrFail[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

func mustSub(t testing.TB, b pubsub.Bus, pattern string, h pubsub.Handler, opts ...pubsub.SubscribeOption) pubsub.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), pattern, h, append([]pubsub.SubscribeOption{fast}, opts...)...)
	require.NoError(t, err)
	return s
}

func mustPub(t testing.TB, b pubsub.Bus, topic, payload string) {
	t.Helper()
	require.NoError(t, b.Publish(context.Background(), topic, []byte(payload)))
}
