// Package queuetest is the conformance suite of queue.Queue: one table of
// named cases that every implementation must pass, so the memory and Redis
// backends cannot drift apart. Run it from a test of your own
// implementation (or of a wrapper) with Run.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/queue"
)

// Config is what a case needs from the queue it gets.
type Config struct {
	// Now is the clock the queue must use for due times and aging
	// (queue.WithClock).
	Now func() time.Time
	// Aging is the queue's aging period (queue.WithAging).
	Aging time.Duration
	// Poll is the queue's poll interval (queue.WithPollInterval).
	Poll time.Duration
}

// Factory returns a new, empty queue configured by cfg, closed by the
// caller's cleanup when t ends.
type Factory func(t *testing.T, cfg Config) queue.Queue

// Aging is the aging period of the cases.
const Aging = 10 * time.Second

// env is one case's queue and clock.
type env struct {
	t     *testing.T
	q     queue.Queue
	clock *clocktest.Clock
	ctx   context.Context
}

func newEnv(t *testing.T, f Factory, poll time.Duration) *env {
	clock := clocktest.New()
	q := f(t, Config{Now: clock.Now, Aging: Aging, Poll: poll})
	return &env{t: t, q: q, clock: clock, ctx: context.Background()}
}

// A case is one named behaviour.
type testCase struct {
	name string
	poll time.Duration // default 10ms
	run  func(e *env)
}

// Run runs every case as a subtest of t, each on a queue from f.
func Run(t *testing.T, f Factory) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			poll := c.poll
			if poll == 0 {
				poll = 10 * time.Millisecond
			}
			c.run(newEnv(t, f, poll))
		})
	}
}

func (e *env) enqueue(j queue.Job) {
	e.t.Helper()
	if err := e.q.Enqueue(e.ctx, j); err != nil {
		e.t.Fatalf("Enqueue(%s): %v", j.ID, err)
	}
}

// dequeue takes the next due job, failing the test if none comes within a
// generous real-time bound.
func (e *env) dequeue() *queue.Delivery {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	d, err := e.q.Dequeue(ctx)
	if err != nil {
		e.t.Fatalf("Dequeue: %v", err)
	}
	return d
}

// none asserts that no job is due: a Dequeue bounded by 30ms returns
// DeadlineExceeded.
func (e *env) none() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
	defer cancel()
	d, err := e.q.Dequeue(ctx)
	if d != nil || !errors.Is(err, context.DeadlineExceeded) {
		id := ""
		if d != nil {
			id = d.ID
		}
		e.t.Fatalf("Dequeue with nothing due = %q, %v; want DeadlineExceeded", id, err)
	}
}

func (e *env) ack(d *queue.Delivery) {
	e.t.Helper()
	if err := e.q.Ack(e.ctx, d); err != nil {
		e.t.Fatalf("Ack(%s): %v", d.ID, err)
	}
}

func (e *env) lens() [3]int64 {
	e.t.Helper()
	r, s, l, err := e.q.Len(e.ctx)
	if err != nil {
		e.t.Fatalf("Len: %v", err)
	}
	return [3]int64{r, s, l}
}

// order dequeues and acks n jobs, returning their IDs in delivery order.
func (e *env) order(n int) []string {
	e.t.Helper()
	ids := make([]string, 0, n)
	for range n {
		d := e.dequeue()
		ids = append(ids, d.ID)
		e.ack(d)
	}
	return ids
}

func (e *env) wantOrder(want ...string) {
	e.t.Helper()
	if got := e.order(len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Fatalf("delivery order %v, want %v", got, want)
	}
}

// waitFor polls cond every 5ms for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dequeueAsync starts a blocked Dequeue; its result arrives on the channel.
func (e *env) dequeueAsync(ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() {
		d, err := e.q.Dequeue(ctx)
		ch <- result{d, err}
	}()
	return ch
}

type result struct {
	d   *queue.Delivery
	err error
}

// await returns the result of a dequeueAsync within bound, or fails.
func (e *env) await(ch <-chan result, bound time.Duration, what string) result {
	e.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(bound):
		e.t.Fatalf("%s: no result within %v", what, bound)
		return result{}
	}
}

// stillBlocked asserts that ch has no result within 30ms.
func (e *env) stillBlocked(ch <-chan result, what string) {
	e.t.Helper()
	select {
	case r := <-ch:
		id := ""
		if r.d != nil {
			id = r.d.ID
		}
		e.t.Fatalf("%s: Dequeue returned early: %q, %v", what, id, r.err)
	case <-time.After(30 * time.Millisecond):
	}
}
