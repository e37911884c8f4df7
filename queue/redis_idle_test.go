package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// TestRedisDequeueAfterAnAckThatEmptiedTheQueueWaitsWithoutLooking: once
// an Ack saw nothing ready, the next Dequeue waits for a wake-up without
// running a script, and is still woken by an Enqueue of this process, by
// one of another process, and at a scheduled job's due time (the poll
// interval, 10s, is not what ends any of these waits).
func TestRedisDequeueAfterAnAckThatEmptiedTheQueueWaitsWithoutLooking(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		var scripts atomic.Int64
		c.AddHook(scriptCounter{n: &scripts})
		q := newRedisQueue(t, tg, c, queue.WithPollInterval(10*time.Second))
		otherClient, _ := tg.NewClient()
		other := newRedisQueue(t, tg, otherClient, queue.WithPollInterval(10*time.Second))
		ctx := context.Background()

		// empty leaves q having acked the only job: ready is empty.
		empty := func(id string) {
			t.Helper()
			if err := q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
				t.Fatal(err)
			}
			if err := q.Ack(ctx, dequeueWithin(t, q, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		// Enqueue leaves a wake-up in the list for other processes when none
		// of q's Dequeues is blocked; it would end the waits below at once.
		dropWakeUps := func() {
			t.Helper()
			if err := c.Del(ctx, tg.Prefix+"{"+queue.DefaultName+"}:wake").Err(); err != nil {
				t.Fatal(err)
			}
		}
		empty("a")
		dropWakeUps()
		before := scripts.Load()
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := q.Dequeue(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dequeue of an empty queue: %v", err)
		}
		if n := scripts.Load() - before; n != 0 {
			t.Fatalf("Dequeue after an Ack that emptied the queue ran %d scripts, want 0", n)
		}

		for _, by := range []struct {
			name string
			q    *queue.Redis
		}{{"this process", q}, {"another process", other}} {
			empty("b-" + strings.ReplaceAll(by.name, " ", "-"))
			got := make(chan *queue.Delivery, 1)
			go func() {
				d, _ := q.Dequeue(ctx)
				got <- d
			}()
			time.Sleep(20 * time.Millisecond) // let it block
			id := "job-by-" + strings.ReplaceAll(by.name, " ", "-")
			if err := by.q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-got:
				if d == nil || d.ID != id {
					t.Fatalf("woken by an Enqueue of %s: got %v, want %s", by.name, d, id)
				}
				if err := q.Ack(ctx, d); err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("an Enqueue of %s did not wake a Dequeue that skipped its look", by.name)
			}
		}

		if err := q.Enqueue(ctx, queue.Job{ID: "later", RunAt: tg.Now().Add(300 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		empty("c")
		if tg.Mini != nil {
			tg.Advance(300 * time.Millisecond) // due now on the server; q was told 300ms
		}
		// Within 2s, not the 10s poll interval: the wait ends at the due
		// time the Ack reported (or earlier, at a wake-up the listener
		// still had).
		if d := dequeueWithin(t, q, 2*time.Second); d.ID != "later" {
			t.Fatalf("got %s, want later", d.ID)
		}
	})
}

// TestRedisTricklingJobsNeverWaitForThePollInterval: two processes, each
// with consumers (Dequeue+Ack on one, a Next loop on the other) and a
// producer trickling jobs, so the queue empties again and again and
// Dequeues keep waiting without looking. With a one-minute poll interval,
// a wake-up lost anywhere would leave a job waiting: every job must be
// delivered, once, within seconds.
func TestRedisTricklingJobsNeverWaitForThePollIntervalAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		jobs := 200
		if tg.Mini != nil {
			jobs = 60 // miniredis compiles every script it runs: slow
		}
		twoProcesses{
			jobs: jobs, consumers: 3,
			opts:    []queue.RedisOption{queue.WithPollInterval(time.Minute)},
			useNext: func(proc int) bool { return proc == 1 },
			job:     func(i int) queue.Job { return queue.Job{ID: fmt.Sprintf("j%d", i)} },
			pause: func(i int) {
				if i%7 == 0 {
					time.Sleep(time.Duration(i%3) * time.Millisecond) // let the queue run dry now and then
				}
			},
			within: 10 * time.Second,
			late:   "a wake-up was lost (poll interval 1 minute)",
		}.run(t, tg)
	})
}
