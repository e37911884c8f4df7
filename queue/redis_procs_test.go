package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// twoProcesses is a set-up shared by the cross-process tests: two queue
// values on clients of their own (two processes, as far as Redis can
// tell), consumers on each, and a producer enqueueing on both in turn;
// every job must be delivered exactly once within a deadline.
type twoProcesses struct {
	jobs      int
	consumers int                 // per process
	opts      []queue.RedisOption // both processes'
	useNext   func(proc int) bool // the process's consumers loop on Next (else Dequeue+Ack)
	job       func(i int) queue.Job
	pause     func(i int)   // after enqueueing job i; nil: none
	within    time.Duration // for every job to be delivered
	late      string        // what a missed deadline says went wrong
}

// run sets the processes up on tg, runs them until every job is delivered
// and fails t unless each was delivered once and no consumer failed.
func (p twoProcesses) run(t *testing.T, tg *redistest.Target) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other, _ := tg.NewClient()
	procs := []*queue.Redis{newRedisQueue(t, tg, tg.Client, p.opts...), newRedisQueue(t, tg, other, p.opts...)}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, 2*p.consumers)
	)
	record := func(d *queue.Delivery) {
		mu.Lock()
		seen[d.ID]++
		mu.Unlock()
	}
	for i, q := range procs {
		next := p.useNext != nil && p.useNext(i)
		for range p.consumers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := consume(ctx, q, next, record); err != nil {
					errs <- err
				}
			}()
		}
	}
	for i := range p.jobs {
		if err := procs[i%2].Enqueue(ctx, p.job(i)); err != nil {
			t.Fatal(err)
		}
		if p.pause != nil {
			p.pause(i)
		}
	}
	deadline := time.Now().Add(p.within)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == p.jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs delivered within %s: %s", n, p.jobs, p.within, p.late)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("consumer: %v", err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}

// consume takes jobs from q until ctx ends — with Next (each call acking
// the previous job) or with Dequeue and Ack — and records each; it returns
// the first error that is not ctx's.
func consume(ctx context.Context, q *queue.Redis, next bool, record func(*queue.Delivery)) error {
	var done *queue.Delivery
	for {
		var d *queue.Delivery
		var err error
		if next {
			d, err = q.Next(ctx, done)
		} else {
			d, err = q.Dequeue(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		record(d)
		if next {
			done = d
			continue
		}
		if err := q.Ack(context.Background(), d); err != nil {
			return fmt.Errorf("ack %s: %w", d.ID, err)
		}
	}
}
