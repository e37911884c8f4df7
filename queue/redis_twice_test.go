package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// twice runs every script twice, as go-redis does when a reply is lost to
// a read timeout and it retries the command: the caller sees the second
// run's reply.
type twice struct{}

func (twice) DialHook(next redis.DialHook) redis.DialHook { return next }
func (twice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (twice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.HasPrefix(cmd.Name(), "eval") {
			_ = next(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}

// TestRedisCallsRunTwiceActOnce: a call whose script runs twice acts
// once: Enqueue is not a duplicate of itself, Dequeue leases one job (not
// two, one of them to nobody), Ack, Retry and Defer succeed.
func TestRedisCallsRunTwiceActOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		c.AddHook(twice{})
		q := newRedisQueue(t, tg, c)
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c"} {
			if err := q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
				t.Fatalf("Enqueue(%s) run twice: %v", id, err)
			}
		}
		if err := q.Enqueue(ctx, queue.Job{ID: "a"}); !errors.Is(err, queue.ErrDuplicate) {
			t.Fatalf("a real duplicate: %v", err)
		}
		d := dequeueWithin(t, q, 5*time.Second)
		if r, _, l, _ := q.Len(ctx); r != 2 || l != 1 {
			t.Fatalf("Len after one Dequeue run twice: %d ready, %d leased; want 2, 1", r, l)
		}
		if err := q.Retry(ctx, d, time.Time{}); err != nil {
			t.Fatalf("Retry run twice: %v", err)
		}
		if err := q.Retry(ctx, d, time.Time{}); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("a second Retry of the delivery: %v, want ErrLeaseLost", err)
		}
		seen := map[string]int{}
		deferred := false
		for len(seen) < 3 {
			d := dequeueWithin(t, q, 5*time.Second)
			if d.ID == "b" && !deferred {
				deferred = true
				if err := q.Defer(ctx, d, time.Time{}); err != nil {
					t.Fatalf("Defer run twice: %v", err)
				}
				continue
			}
			if _, again := seen[d.ID]; again {
				t.Fatalf("%s delivered again after its Ack", d.ID)
			}
			seen[d.ID] = d.Attempt
			if err := q.Ack(ctx, d); err != nil {
				t.Fatalf("Ack run twice: %v", err)
			}
			if err := q.Ack(ctx, d); !errors.Is(err, queue.ErrLeaseLost) {
				t.Fatalf("a second Ack: %v, want ErrLeaseLost", err)
			}
		}
		if seen["a"] != 2 || seen["b"] != 1 || seen["c"] != 1 {
			t.Fatalf("attempts %v: want a 2 (retried once), b 1 (deferred), c 1", seen)
		}
		if r, s, l, _ := q.Len(ctx); r+s+l != 0 {
			t.Fatalf("Len after all acked: %d %d %d", r, s, l)
		}
	})
}

// TestRedisNextRunTwiceActsOnce: a Next whose script runs twice acks its
// delivery once (no ErrLeaseLost from its own second run) and leases one
// job, not two.
func TestRedisNextRunTwiceActsOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		c.AddHook(twice{})
		q := newRedisQueue(t, tg, c)
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c"} {
			if err := q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		d := dequeueWithin(t, q, 5*time.Second)
		for want := int64(1); want >= 0; want-- {
			next, err := q.Next(ctx, d)
			if err != nil {
				t.Fatalf("Next run twice: %v", err)
			}
			if r, _, l, _ := q.Len(ctx); r != want || l != 1 {
				t.Fatalf("Len after Next run twice: %d ready, %d leased; want %d, 1", r, l, want)
			}
			if _, err := q.Next(ctx, d); !errors.Is(err, queue.ErrLeaseLost) {
				t.Fatalf("Next acking %s a second time: %v, want ErrLeaseLost", d.ID, err)
			}
			d = next
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := q.Next(short, d); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with nothing left: %v, want DeadlineExceeded", err)
		}
		if r, s, l, _ := q.Len(ctx); r+s+l != 0 {
			t.Fatalf("Len after the last Next: %d %d %d", r, s, l)
		}
	})
}
