package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// TestRedisFaultsEveryCallReturnsByItsBound freezes a private server
// (SIGSTOP) and checks that every call returns by WithTimeout, on both
// kinds of go-redis client, and that the queue works again once thawed.
func TestRedisFaultsEveryCallReturnsByItsBound(t *testing.T) {
	for kind, copts := range redistest.ClientKinds() {
		t.Run(kind, func(t *testing.T) {
			srv := redistest.StartServer(t)
			c, _ := srv.Client(copts...)
			const bound = 100 * time.Millisecond
			q, err := queue.NewRedis(c, queue.WithTimeout(bound), queue.WithPollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, id := range []string{"a", "b", "c", "d"} {
				if err := q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
					t.Fatal(err)
				}
			}
			var ds []*queue.Delivery
			for range 3 {
				d, err := q.Dequeue(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, d)
			}
			srv.Freeze()
			calls := []struct {
				name string
				call func() error
			}{
				{"Enqueue", func() error { return q.Enqueue(ctx, queue.Job{ID: "e"}) }},
				{"Dequeue", func() error { _, err := q.Dequeue(ctx); return err }},
				{"Ack", func() error { return q.Ack(ctx, ds[0]) }},
				{"Retry", func() error { return q.Retry(ctx, ds[1], time.Time{}) }},
				{"Defer", func() error { return q.Defer(ctx, ds[2], time.Time{}) }},
				{"Cancel", func() error { return q.Cancel(ctx, "d") }},
				{"Len", func() error { _, _, _, err := q.Len(ctx); return err }},
			}
			for _, c := range calls {
				start := time.Now()
				err := c.call()
				if elapsed, late := redistest.Late(start, bound); late {
					t.Errorf("%s on a frozen server took %v, bound %v", c.name, elapsed, bound)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s on a frozen server: %v, want DeadlineExceeded", c.name, err)
				}
			}
			start := time.Now()
			closeErr := q.Close() // its release is bounded too
			if elapsed, late := redistest.Late(start, bound); late {
				t.Errorf("Close on a frozen server took %v, bound %v", elapsed, bound)
			}
			if !errors.Is(closeErr, context.DeadlineExceeded) {
				t.Errorf("Close on a frozen server: %v, want the release's DeadlineExceeded", closeErr)
			}
			srv.Thaw()
			srv.AwaitAnswer()
			q2, err := queue.NewRedis(c, queue.WithTimeout(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer q2.Close()
			if _, _, _, err := q2.Len(ctx); err != nil {
				t.Fatalf("Len after thaw: %v", err)
			}
		})
	}
}

// TestRedisFaultsNoAcceptedJobIsLostToAKill enqueues while the server (an
// append-only file, fsync always) is killed and restarted: every Enqueue
// that returned nil is there afterwards; one that failed may or may not be.
func TestRedisFaultsNoAcceptedJobIsLostToAKill(t *testing.T) {
	srv := redistest.StartServer(t, redistest.WithAOF())
	c, _ := srv.Client()
	q, err := queue.NewRedis(c, queue.WithTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	accepted, unknown := map[string]bool{}, map[string]bool{}
	enqueue := func(i int) {
		id := fmt.Sprintf("j%d", i)
		j := queue.Job{ID: id, Payload: []byte(id), Priority: queue.Priority(1 + i%4)}
		if i%3 == 0 {
			j.RunAt = time.Now().Add(time.Hour)
		}
		if err := q.Enqueue(ctx, j); err != nil {
			unknown[id] = true
		} else {
			accepted[id] = true
		}
	}
	i := 0
	for ; i < 200; i++ {
		enqueue(i)
	}
	srv.Kill()
	for ; i < 220; i++ {
		enqueue(i) // fail: the server is down
	}
	srv.Restart()
	srv.AwaitAnswer()
	for ; i < 300; i++ {
		enqueue(i)
	}
	if len(accepted) < 250 {
		t.Fatalf("only %d of %d enqueues accepted around the restart", len(accepted), i)
	}
	ready, scheduled, leased, err := q.Len(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total := ready + scheduled + leased; total < int64(len(accepted)) || total > int64(len(accepted)+len(unknown)) {
		t.Fatalf("Len %d+%d+%d after restart, %d accepted (%d unknown)", ready, scheduled, leased, len(accepted), len(unknown))
	}
	for id := range accepted {
		if err := q.Cancel(ctx, id); err != nil {
			t.Fatalf("accepted job %s lost: %v", id, err)
		}
	}
}
