package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/queue"
)

func Example() {
	ctx := context.Background()
	q, err := queue.NewMemory()
	if err != nil {
		panic(err)
	}
	defer q.Close()

	_ = q.Enqueue(ctx, queue.Job{ID: "digest", Priority: queue.Low})
	_ = q.Enqueue(ctx, queue.Job{ID: "newsletter"})
	_ = q.Enqueue(ctx, queue.Job{ID: "password-reset", Priority: queue.Critical})
	_ = q.Enqueue(ctx, queue.Job{ID: "reminder", RunAt: time.Now().Add(time.Hour)})

	for range 3 {
		d, err := q.Dequeue(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(d.ID, d.Priority, "attempt", d.Attempt)
		_ = q.Ack(ctx, d)
	}
	ready, scheduled, leased, _ := q.Len(ctx)
	fmt.Println("ready", ready, "scheduled", scheduled, "leased", leased)
	// Output:
	// password-reset critical attempt 1
	// newsletter normal attempt 1
	// digest low attempt 1
	// ready 0 scheduled 1 leased 0
}

// A worker loop with Next: each call acks the job before and takes the
// next (one round trip on Redis).
func ExampleMemory_Next() {
	ctx := context.Background()
	q, err := queue.NewMemory()
	if err != nil {
		panic(err)
	}
	defer q.Close()
	for _, id := range []string{"a", "b", "c"} {
		_ = q.Enqueue(ctx, queue.Job{ID: id})
	}

	stop, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var done *queue.Delivery
	for {
		d, err := q.Next(stop, done) // acks done, then waits for a job
		if err != nil {
			fmt.Println(err) // nothing came before stop: the last job is acked all the same
			break
		}
		fmt.Println("handled", d.ID)
		done = d
	}
	fmt.Printf("%+v\n", q.Stats())
	// Output:
	// handled a
	// handled b
	// handled c
	// context deadline exceeded
	// {Enqueued:3 Delivered:3 DeliveredByPriority:[0 0 3 0 0] Acked:3 Retried:0 Deferred:0 Cancelled:0 Reclaimed:0 LeaseLost:0 Released:0}
}

// A Redis queue is shared by every process that opens its name; here a
// miniredis stands in for the server.
func ExampleNewRedis() {
	srv, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()

	ctx := context.Background()
	q, err := queue.NewRedis(rdb, queue.WithName("mail"))
	if err != nil {
		panic(err)
	}
	defer q.Close()

	_ = q.Enqueue(ctx, queue.Job{ID: "order-17:receipt", Payload: []byte(`{"to":"ada@example.com"}`)})
	err = q.Enqueue(ctx, queue.Job{ID: "order-17:receipt"})
	fmt.Println("again:", errors.Is(err, queue.ErrDuplicate))

	d, _ := q.Dequeue(ctx)
	fmt.Println(d.ID, string(d.Payload), "attempt", d.Attempt)
	_ = q.Retry(ctx, d, time.Time{}) // failed: try again now
	d, _ = q.Dequeue(ctx)
	fmt.Println(d.ID, "attempt", d.Attempt)
	_ = q.Ack(ctx, d)
	fmt.Printf("%+v\n", q.Stats())
	// Output:
	// again: true
	// order-17:receipt {"to":"ada@example.com"} attempt 1
	// order-17:receipt attempt 2
	// {Enqueued:1 Delivered:2 DeliveredByPriority:[0 0 2 0 0] Acked:1 Retried:1 Deferred:0 Cancelled:0 Reclaimed:0 LeaseLost:0 Released:0}
}

// WithObserver and WithLogger report what an operator must see: here, a
// job whose lease was lost and reclaimed.
func ExampleWithLogger() {
	srv, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // stable output
			}
			return a
		},
	}))
	ctx := context.Background()
	q, err := queue.NewRedis(rdb, queue.WithName("mail"), queue.WithLogger(logger),
		queue.WithObserver(func(e queue.Event) { fmt.Println("observed:", e.Kind, e.JobID, e.Attempt) }))
	if err != nil {
		panic(err)
	}
	defer q.Close()

	_ = q.Enqueue(ctx, queue.Job{ID: "welcome"})
	d, _ := q.Dequeue(ctx) // the consumer hangs; its lease expires:
	srv.FastForward(queue.DefaultVisibilityTimeout + time.Second)
	srv.SetTime(time.Now().Add(queue.DefaultVisibilityTimeout + time.Second))
	d2, _ := q.Dequeue(ctx)
	fmt.Println("redelivered:", d2.ID, "attempt", d2.Attempt)
	fmt.Println("old delivery's Ack:", errors.Is(q.Ack(ctx, d), queue.ErrLeaseLost))
	_ = q.Ack(ctx, d2)
	// Output:
	// observed: reclaimed welcome 2
	// level=WARN msg="queue: reclaimed a job whose lease expired" queue=mail job=welcome attempt=2
	// redelivered: welcome attempt 2
	// observed: lease-lost welcome 1
	// level=WARN msg="queue: lost a lease; the job may run twice" queue=mail job=welcome attempt=1
	// old delivery's Ack: true
}
