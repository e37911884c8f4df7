package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// TestRedisConcurrentEnqueuesGoTogetherEachWithItsAnswer: producers
// enqueueing at once are sent as batches (group commit), and each still
// gets its own answer: of two producers racing with one ID exactly one is
// accepted, and every accepted job is delivered once.
func TestRedisConcurrentEnqueuesGoTogetherEachWithItsAnswer(t *testing.T) {
	const pairs = 16
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		per := 20
		if tg.Mini != nil {
			per = 5 // miniredis compiles every script it runs: slow
		}
		c, _ := tg.NewClient()
		q := newRedisQueue(t, tg, c, queue.WithName("group"), queue.WithTimeout(30*time.Second))
		ctx := context.Background()
		var accepted, duplicates atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 2*pairs)
		for g := range 2 * pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range per {
					err := q.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("j%d-%d", g%pairs, i), Payload: []byte(fmt.Sprint(g))})
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, queue.ErrDuplicate):
						duplicates.Add(1)
					default:
						errs <- err
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if accepted.Load() != pairs*int64(per) || duplicates.Load() != pairs*int64(per) {
			t.Fatalf("%d accepted, %d duplicates; want %d of each", accepted.Load(), duplicates.Load(), pairs*per)
		}
		if q.EnqueuedInBatchesForTest() == 0 {
			t.Fatalf("%d producers at once: no job went in a batch", 2*pairs)
		}
		if st := q.Stats(); st.Enqueued != uint64(pairs*per) {
			t.Fatalf("Stats.Enqueued %d, want %d", st.Enqueued, pairs*per)
		}
		seen := map[string]bool{}
		for range pairs * per {
			d := dequeueWithin(t, q, 5*time.Second)
			if seen[d.ID] {
				t.Fatalf("%s delivered twice", d.ID)
			}
			seen[d.ID] = true
			if err := q.Ack(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if ready, scheduled, leased, err := q.Len(ctx); err != nil || ready+scheduled+leased != 0 {
			t.Fatalf("left: %d ready, %d scheduled, %d leased (%v)", ready, scheduled, leased, err)
		}
	})
}

// TestRedisFaultsQueuedEnqueuesReturnByTheirBound: on a frozen server,
// Enqueues waiting for a batch return by their own bound (WithTimeout, or
// a shorter ctx deadline), like the ones in flight.
func TestRedisFaultsQueuedEnqueuesReturnByTheirBound(t *testing.T) {
	srv := redistest.StartServer(t)
	c, _ := srv.Client()
	const bound, short = 150 * time.Millisecond, 40 * time.Millisecond
	q, err := queue.NewRedis(c, queue.WithTimeout(bound))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Enqueue(context.Background(), queue.Job{ID: "warm"}); err != nil {
		t.Fatal(err)
	}
	srv.Freeze()
	defer srv.Thaw()
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, limit := context.Background(), bound
			if i%2 == 1 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, short)
				defer cancel()
				limit = short
			}
			start := time.Now()
			err := q.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("f%d", i)})
			if elapsed, late := redistest.Late(start, limit); late {
				t.Errorf("Enqueue %d on a frozen server took %v, bound %v", i, elapsed, limit)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Enqueue %d on a frozen server: %v, want DeadlineExceeded", i, err)
			}
		}()
	}
	wg.Wait()
}

// TestRedisConcurrentTakesGoTogetherEachWithItsJob: consumers taking jobs
// at once (Next: ack the last, take the next) are sent as batches, and
// each still gets a job of its own: every job is delivered and acked once.
func TestRedisConcurrentTakesGoTogetherEachWithItsJob(t *testing.T) {
	const consumers = 16
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		jobs := 400
		if tg.Mini != nil {
			jobs = 80 // miniredis compiles every script it runs: slow
		}
		c, _ := tg.NewClient()
		q := newRedisQueue(t, tg, c, queue.WithName("takes"), queue.WithTimeout(30*time.Second))
		ctx := context.Background()
		for i := range jobs {
			if err := q.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("t%d", i), Priority: queue.Priority(1 + i%4)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		// Ends when every job was seen (Next acks its last delivery first),
		// or after a minute.
		run, stop := context.WithTimeout(ctx, time.Minute)
		defer stop()
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, consumers)
		for range consumers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var done *queue.Delivery
				for {
					d, err := q.Next(run, done)
					if errors.Is(err, context.Canceled) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					seen[d.ID]++
					if len(seen) == jobs {
						stop()
					}
					mu.Unlock()
					done = d
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != jobs {
			t.Fatalf("%d of %d jobs delivered", len(seen), jobs)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s delivered %d times", id, n)
			}
		}
		if q.TakenInBatchesForTest() == 0 {
			t.Fatalf("%d consumers at once: no take went in a batch", consumers)
		}
		if st := q.Stats(); st.Acked != uint64(jobs) || st.Delivered != uint64(jobs) {
			t.Fatalf("Stats: %d delivered, %d acked; want %d each", st.Delivered, st.Acked, jobs)
		}
		if ready, scheduled, leased, err := q.Len(ctx); err != nil || ready+scheduled+leased != 0 {
			t.Fatalf("left: %d ready, %d scheduled, %d leased (%v)", ready, scheduled, leased, err)
		}
	})
}
