// Command queue demonstrates the queue package with a notification
// outbox, in a few seconds: priorities (a critical message enqueued last
// goes first), aging (a low-priority digest is served under a flood of
// normal messages once it has waited one aging period), scheduling (a
// reminder is never delivered early), retry with growing delays and a
// deferral that does not count as an attempt, and cancellation.
//
//	go run ./examples/queue                        # in memory
//	go run ./examples/queue -redis localhost:6379  # durable, shared by processes
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/queue"
)

// aging is short so that the demo shows it within a second; a service
// keeps queue.DefaultAging (30s) or similar.
const aging = 300 * time.Millisecond

func main() {
	addr := flag.String("redis", "", "Redis address: run the durable queue there")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "queue:", err)
		os.Exit(1)
	}
}

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("%6.0fms  ", float64(time.Since(start).Microseconds())/1000)
	fmt.Printf(format+"\n", args...)
}

func run(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var q queue.Queue
	if addr == "" {
		fmt.Println("in-memory queue")
		m, err := queue.NewMemory(queue.WithAging(aging))
		if err != nil {
			return err
		}
		q = m
	} else {
		fmt.Println("Redis queue at", addr)
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		name := fmt.Sprintf("example-%d", time.Now().UnixNano()) // a fresh queue per run
		r, err := queue.NewRedis(rdb, queue.WithName(name), queue.WithAging(aging), queue.WithVisibilityTimeout(time.Second))
		if err != nil {
			return err
		}
		q = r
	}
	defer q.Close()

	for _, scene := range []func(context.Context, queue.Queue) error{priorities, agingScene, scheduling, retries, cancellation} {
		if err := scene(ctx, q); err != nil {
			return err
		}
		fmt.Println()
	}
	s := q.Stats()
	fmt.Printf("stats: enqueued %d, delivered %d (critical %d, high %d, normal %d, low %d), acked %d, retried %d, deferred %d, cancelled %d\n",
		s.Enqueued, s.Delivered, s.DeliveredByPriority[queue.Critical], s.DeliveredByPriority[queue.High],
		s.DeliveredByPriority[queue.Normal], s.DeliveredByPriority[queue.Low], s.Acked, s.Retried, s.Deferred, s.Cancelled)
	return nil
}

// take dequeues one job and acks it.
func take(ctx context.Context, q queue.Queue) (*queue.Delivery, error) {
	d, err := q.Dequeue(ctx)
	if err != nil {
		return nil, err
	}
	return d, q.Ack(ctx, d)
}

func priorities(ctx context.Context, q queue.Queue) error {
	fmt.Println("1. priorities: four newsletters and a digest queued, then one password reset")
	jobs := []queue.Job{
		{ID: "newsletter-1"}, {ID: "newsletter-2"}, {ID: "digest", Priority: queue.Low},
		{ID: "newsletter-3"}, {ID: "newsletter-4"}, {ID: "password-reset", Priority: queue.Critical},
	}
	for _, j := range jobs {
		if err := q.Enqueue(ctx, j); err != nil {
			return err
		}
	}
	for range jobs {
		d, err := take(ctx, q)
		if err != nil {
			return err
		}
		say("sent %-15s %s", d.ID, d.Priority)
	}
	return nil
}

func agingScene(ctx context.Context, q queue.Queue) error {
	fmt.Printf("2. aging (%v): a low digest under a flood of normal messages, one sent per 50ms\n", aging)
	queued := time.Now()
	if err := q.Enqueue(ctx, queue.Job{ID: "weekly-digest", Priority: queue.Low}); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if err := q.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("flood-%d", i)}); err != nil {
			return err
		}
		d, err := take(ctx, q)
		if err != nil {
			return err
		}
		if d.ID == "weekly-digest" {
			say("sent weekly-digest after %v, ahead of the flood's newest (%d normals sent before it)", time.Since(queued).Round(10*time.Millisecond), i)
			_, err := take(ctx, q) // the flood's last message
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scheduling(ctx context.Context, q queue.Queue) error {
	fmt.Println("3. scheduling: a reminder due in 500ms")
	at := time.Now().Add(500 * time.Millisecond)
	if err := q.Enqueue(ctx, queue.Job{ID: "reminder", RunAt: at}); err != nil {
		return err
	}
	_, scheduled, _, err := q.Len(ctx)
	if err != nil {
		return err
	}
	say("queued; scheduled: %d", scheduled)
	d, err := take(ctx, q)
	if err != nil {
		return err
	}
	say("sent %s, %v after its due time", d.ID, time.Since(at).Round(time.Millisecond))
	return nil
}

func retries(ctx context.Context, q queue.Queue) error {
	fmt.Println("4. retry: an SMS provider fails twice (retried after 2^attempt × 50ms), then a rate limit defers it once")
	if err := q.Enqueue(ctx, queue.Job{ID: "sms-42", Priority: queue.High}); err != nil {
		return err
	}
	deferred := false
	for {
		d, err := q.Dequeue(ctx)
		if err != nil {
			return err
		}
		switch {
		case d.Attempt < 3:
			wait := (50 * time.Millisecond) << d.Attempt
			say("attempt %d: provider error, retry in %v", d.Attempt, wait)
			if err := q.Retry(ctx, d, time.Now().Add(wait)); err != nil {
				return err
			}
		case !deferred:
			deferred = true
			say("attempt %d: rate limited, defer 100ms (does not count)", d.Attempt)
			if err := q.Defer(ctx, d, time.Now().Add(100*time.Millisecond)); err != nil {
				return err
			}
		default:
			say("attempt %d: sent", d.Attempt)
			return q.Ack(ctx, d)
		}
	}
}

func cancellation(ctx context.Context, q queue.Queue) error {
	fmt.Println("5. cancellation")
	if err := q.Enqueue(ctx, queue.Job{ID: "promo", RunAt: time.Now().Add(time.Hour)}); err != nil {
		return err
	}
	say("cancel promo (scheduled): %v", errText(q.Cancel(ctx, "promo")))
	if err := q.Enqueue(ctx, queue.Job{ID: "receipt"}); err != nil {
		return err
	}
	d, err := q.Dequeue(ctx)
	if err != nil {
		return err
	}
	say("cancel receipt (being sent): %v", errText(q.Cancel(ctx, "receipt")))
	say("cancel nothing-such: %v", errText(q.Cancel(ctx, "nothing-such")))
	return q.Ack(ctx, d)
}

func errText(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, queue.ErrLeased):
		return "ErrLeased"
	case errors.Is(err, queue.ErrNotFound):
		return "ErrNotFound"
	}
	return err.Error()
}
