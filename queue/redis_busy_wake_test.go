package queue_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// isWakeUp reports whether a script call is a wake-up sent on its own
// (one key, the queue's wake-up list).
func isWakeUp(args []any) bool {
	return len(args) >= 4 && fmt.Sprint(args[2]) == "1" && strings.HasSuffix(fmt.Sprint(args[3]), ":wake")
}

// A busy process, whose Dequeues are in flight rather than blocked, sends
// other processes no wake-up of its own for jobs they were told of by the
// enqueue script already (or that no one needs telling of): a wake-up
// script per job was most of the queue's extra calls under load. Every
// job is still delivered once.
func TestRedisBusyProcessSendsNoWakeUpPerJob(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		var wakes atomic.Int64
		c.AddHook(scriptCounter{n: &wakes, only: isWakeUp})
		q := newRedisQueue(t, tg, c)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		jobs := 400
		if tg.Mini != nil {
			jobs = 200 // miniredis compiles every script it runs: slow
		}
		var got sync.Map
		var delivered atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var done *queue.Delivery
				for {
					d, err := q.Next(ctx, done)
					if err != nil {
						return
					}
					if _, dup := got.LoadOrStore(d.ID, true); dup {
						t.Errorf("%s delivered twice", d.ID)
					}
					delivered.Add(1)
					done = d
				}
			}()
		}
		// Producers enqueue at once, so that enqueues are batched and wake
		// several of the Dequeues in flight per batch.
		var next atomic.Int64
		var producers sync.WaitGroup
		for range 16 {
			producers.Add(1)
			go func() {
				defer producers.Done()
				for i := next.Add(1); i <= int64(jobs); i = next.Add(1) {
					if err := q.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("j%d", i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		producers.Wait()
		for deadline := time.Now().Add(20 * time.Second); delivered.Load() < int64(jobs); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d jobs delivered", delivered.Load(), jobs)
			}
		}
		cancel()
		wg.Wait()
		// Some wake-ups are still due: a queue that ran dry has blocked
		// Dequeues, whose wake-ups the enqueue script leaves to this
		// process. A wake-up script per job it already told others of
		// came to a sixth of the jobs or more.
		if n := wakes.Load(); n > int64(jobs*3/20) {
			t.Fatalf("%d wake-up scripts for %d jobs in one process", n, jobs)
		}
	})
}
