package queue_test

import (
	"context"
	"fmt"
	"time"

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
