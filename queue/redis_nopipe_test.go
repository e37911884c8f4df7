package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redisx"
	"github.com/sysdesign/patterns/queue"
)

// Concurrent enqueues, dequeues and acks ride pipelines by default and go
// alone with WithoutPipelining; either way every job is delivered once.
func TestRedisPipeliningOptOut(t *testing.T) {
	const goroutines = 16
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		perGoroutine := 20
		if tg.Mini != nil {
			perGoroutine = 4 // miniredis compiles every script it runs: slow, and only the counts are at stake
		}
		for _, optOut := range []bool{false, true} {
			t.Run(fmt.Sprintf("without-pipelining=%v", optOut), func(t *testing.T) {
				// A client of its own: its pipeline counts are this queue's.
				c, _ := tg.NewClient()
				// A generous bound: a call that times out after its script
				// ran leaves a job leased, on miniredis's still clock for good.
				opts := []queue.RedisOption{queue.WithTimeout(30 * time.Second)}
				if optOut {
					opts = append(opts, queue.WithoutPipelining())
				}
				q := newRedisQueue(t, tg, c, append(opts, queue.WithName(fmt.Sprintf("nopipe-%v", optOut)))...)
				before, _ := redisx.PipelineStats(c)
				seen := runConcurrently(t, q, goroutines, perGoroutine)
				after, _ := redisx.PipelineStats(c)

				if len(seen) != goroutines*perGoroutine {
					t.Fatalf("%d of %d jobs delivered", len(seen), goroutines*perGoroutine)
				}
				for id, n := range seen {
					if n != 1 {
						t.Fatalf("%s delivered %d times", id, n)
					}
				}
				switch sent := after - before; {
				case optOut && sent != 0:
					t.Fatalf("WithoutPipelining: %d pipelines sent", sent)
				case !optOut && sent == 0:
					t.Fatalf("no pipeline sent by %d goroutines at once", goroutines)
				}
				if batched := q.EnqueuedInBatchesForTest(); optOut && batched != 0 {
					t.Fatalf("WithoutPipelining: %d jobs enqueued in batches", batched)
				}
			})
		}
	})
}

// runConcurrently has each of n goroutines enqueue per jobs and then take
// jobs with Next (acking the previous one) until every job is delivered;
// it returns how often each job was delivered, after checking that the
// last acks landed (nothing left ready or leased).
func runConcurrently(t *testing.T, q *queue.Redis, n, per int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				// Not ctx: the job may be delivered (and ctx end) before
				// its Enqueue has read its reply.
				if err := q.Enqueue(context.Background(), queue.Job{ID: fmt.Sprintf("g%d-%d", g, i)}); err != nil {
					errs <- err
					return
				}
			}
			var done *queue.Delivery
			for {
				// Once ctx ends, Next still acks done, then returns.
				d, err := q.Next(ctx, done)
				if err != nil {
					if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
						errs <- err
					}
					return
				}
				mu.Lock()
				seen[d.ID]++
				mu.Unlock()
				done = d
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n*per {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs delivered within 60s", got, n*per)
		}
		select {
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ready, scheduled, leased, err := q.Len(context.Background())
	if err != nil || ready+scheduled+leased != 0 {
		t.Fatalf("after the last acks: ready %d, scheduled %d, leased %d, err %v", ready, scheduled, leased, err)
	}
	return seen
}
