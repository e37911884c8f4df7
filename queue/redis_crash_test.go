package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

const testVisibility = 150 * time.Millisecond

// newRedisQueue opens the test's queue on c, closed when t ends.
func newRedisQueue(t *testing.T, tg *redistest.Target, c redis.UniversalClient, opts ...queue.RedisOption) *queue.Redis {
	t.Helper()
	q, err := queue.NewRedis(c, append([]queue.RedisOption{queue.WithPrefix(tg.Prefix), queue.WithPollInterval(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// expireLeases lets testVisibility pass: on miniredis by moving its clock
// (the lease clock is the server's), elsewhere by waiting.
func expireLeases(tg *redistest.Target) {
	if tg.Mini != nil {
		tg.Advance(testVisibility + time.Millisecond)
	}
}

func dequeueWithin(t *testing.T, q queue.Queue, d time.Duration) *queue.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	got, err := q.Dequeue(ctx)
	if err != nil {
		t.Fatalf("Dequeue: %v", err)
	}
	return got
}

func TestRedisReclaimsTheJobOfAConsumerThatStoppedRenewing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		var mu sync.Mutex
		var events []queue.Event
		observe := queue.WithObserver(func(e queue.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
		hung := newRedisQueue(t, tg, tg.Client, queue.WithVisibilityTimeout(testVisibility), observe)
		other, _ := tg.NewClient()
		rescuer := newRedisQueue(t, tg, other, queue.WithVisibilityTimeout(testVisibility), observe)

		if err := hung.Enqueue(ctx, queue.Job{ID: "job", Payload: []byte("p")}); err != nil {
			t.Fatal(err)
		}
		d := dequeueWithin(t, hung, 5*time.Second)
		hung.StopRenewingForTest()
		expireLeases(tg)
		start := time.Now()
		d2 := dequeueWithin(t, rescuer, 5*time.Second) // wakes at the lease's expiry by itself
		if d2.ID != "job" || d2.Attempt != 2 || string(d2.Payload) != "p" {
			t.Fatalf("reclaimed %+v, want job with Attempt 2", d2)
		}
		if elapsed, late := redistest.Late(start, testVisibility+time.Second); tg.Mini == nil && late {
			t.Fatalf("reclaimed after %v, visibility %v", elapsed, testVisibility)
		}
		if err := hung.Ack(ctx, d); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("the hung consumer's Ack: %v, want ErrLeaseLost", err)
		}
		if err := rescuer.Ack(ctx, d2); err != nil {
			t.Fatalf("the rescuer's Ack: %v", err)
		}
		if s := rescuer.Stats(); s.Reclaimed != 1 {
			t.Fatalf("rescuer Stats.Reclaimed = %d", s.Reclaimed)
		}
		if s := hung.Stats(); s.LeaseLost != 1 {
			t.Fatalf("hung Stats.LeaseLost = %d", s.LeaseLost)
		}
		mu.Lock()
		defer mu.Unlock()
		kinds := map[queue.EventKind]int{}
		for _, e := range events {
			kinds[e.Kind]++
		}
		if kinds[queue.Reclaimed] != 1 || kinds[queue.LeaseLost] != 1 {
			t.Fatalf("events %v, want one reclaimed and one lease-lost", events)
		}
	})
}

func TestRedisReclaimsTheJobsOfACrashedProcess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		crashed := newRedisQueue(t, tg, tg.Client, queue.WithVisibilityTimeout(testVisibility))
		other, _ := tg.NewClient()
		survivor := newRedisQueue(t, tg, other, queue.WithVisibilityTimeout(testVisibility))
		for i := range 3 {
			if err := crashed.Enqueue(ctx, queue.Job{ID: fmt.Sprintf("j%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			dequeueWithin(t, crashed, 5*time.Second)
		}
		crashed.CrashForTest() // leases neither released nor renewed
		if r, _, l, _ := survivor.Len(ctx); r != 0 || l != 3 {
			t.Fatalf("Len after the crash: %d ready, %d leased; want 0, 3", r, l)
		}
		expireLeases(tg)
		seen := map[string]bool{}
		for range 3 {
			d := dequeueWithin(t, survivor, 5*time.Second)
			if d.Attempt != 2 || seen[d.ID] {
				t.Fatalf("got %s attempt %d (seen %v)", d.ID, d.Attempt, seen)
			}
			seen[d.ID] = true
			if err := survivor.Ack(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestRedisCloseReleasesLeasesAtOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		closing := newRedisQueue(t, tg, tg.Client) // default visibility: 30s
		other, _ := tg.NewClient()
		next := newRedisQueue(t, tg, other)
		if err := closing.Enqueue(ctx, queue.Job{ID: "j"}); err != nil {
			t.Fatal(err)
		}
		d := dequeueWithin(t, closing, 5*time.Second)
		if err := closing.Close(); err != nil {
			t.Fatal(err)
		}
		if s := closing.Stats(); s.Released != 1 {
			t.Fatalf("Stats.Released = %d", s.Released)
		}
		d2 := dequeueWithin(t, next, 5*time.Second) // not 30s later
		if d2.ID != "j" || d2.Attempt != d.Attempt {
			t.Fatalf("after Close: %+v, want j with Attempt %d (a release does not count)", d2, d.Attempt)
		}
	})
}

func TestRedisRenewalKeepsALeaseAlive(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini != nil {
			t.Skip("the lease clock is miniredis's frozen clock: nothing expires there without Advance")
		}
		// A lease renewed every 100ms outlives 1s, three visibility
		// timeouts. A machine that stalls this process for longer than the
		// timeout must lose it; such a run is tried again.
		const vis = 300 * time.Millisecond
		for attempt := 1; ; attempt++ {
			start := time.Now()
			err := holdAndRenew(t, tg, fmt.Sprintf("renew-%d", attempt), vis)
			if err == nil {
				return
			}
			if stalled := redistest.Stalled(start, time.Now()); stalled < vis/3 || attempt == redistest.TimingAttempts {
				t.Fatalf("%v (the process stalled %v meanwhile)", err, stalled)
			}
		}
	})
}

func holdAndRenew(t *testing.T, tg *redistest.Target, name string, vis time.Duration) error {
	ctx := context.Background()
	holder := newRedisQueue(t, tg, tg.Client, queue.WithName(name), queue.WithVisibilityTimeout(vis))
	other, _ := tg.NewClient()
	rival := newRedisQueue(t, tg, other, queue.WithName(name), queue.WithVisibilityTimeout(vis))
	if err := holder.Enqueue(ctx, queue.Job{ID: "j"}); err != nil {
		t.Fatal(err)
	}
	d := dequeueWithin(t, holder, 5*time.Second)
	for end := time.Now().Add(3 * vis); time.Now().Before(end); {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		got, _ := rival.Dequeue(c)
		cancel()
		if got != nil {
			return fmt.Errorf("rival got %s (attempt %d) while the holder renews", got.ID, got.Attempt)
		}
	}
	if err := holder.Ack(ctx, d); err != nil {
		return fmt.Errorf("Ack after three visibility timeouts of a renewed lease: %w", err)
	}
	return nil
}

func TestRedisTwoProcessesDeliverEveryJobOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		jobs := 300
		if tg.Mini != nil {
			jobs = 60 // miniredis compiles every script it runs: slow, and only correctness is at stake
		}
		twoProcesses{
			jobs: jobs, consumers: 3,
			job:    func(i int) queue.Job { return queue.Job{ID: fmt.Sprintf("j%d", i), Priority: queue.Priority(1 + i%4)} },
			within: 30 * time.Second,
			late:   "jobs lost between the processes",
		}.run(t, tg)
	})
}

func TestRedisRenewalNoticesALostLease(t *testing.T) {
	tg := redistest.New(t, redistest.Mini) // its clock moves only when told, so the lease expires exactly when wanted
	ctx := context.Background()
	var lost atomic.Int32
	holder := newRedisQueue(t, tg, tg.Client, queue.WithVisibilityTimeout(testVisibility),
		queue.WithObserver(func(e queue.Event) {
			if e.Kind == queue.LeaseLost && e.JobID == "j" {
				lost.Add(1)
			}
		}))
	other, _ := tg.NewClient()
	rival := newRedisQueue(t, tg, other, queue.WithVisibilityTimeout(testVisibility))
	if err := holder.Enqueue(ctx, queue.Job{ID: "j"}); err != nil {
		t.Fatal(err)
	}
	d := dequeueWithin(t, holder, 5*time.Second)
	expireLeases(tg) // as if the holder's renewals had not reached Redis
	if d2 := dequeueWithin(t, rival, 5*time.Second); d2.Attempt != 2 {
		t.Fatalf("rival got attempt %d", d2.Attempt)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lost.Load() == 0 { // the holder's next renewal finds the lease gone
		if time.Now().After(deadline) {
			t.Fatal("no lease-lost event from the renewer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := holder.Ack(ctx, d); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Ack: %v", err)
	}
	if n := holder.Stats().LeaseLost; n != 1 || lost.Load() != 1 {
		t.Fatalf("LeaseLost %d, events %d: want one of each (counted once)", n, lost.Load())
	}
}
