package queue_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// TestRedisEnqueueInOneProcessWakesADequeueInAnother: the wake-up list
// carries an Enqueue to a Dequeue blocked in another process, well before
// its poll interval.
func TestRedisEnqueueInOneProcessWakesADequeueInAnother(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		other, _ := tg.NewClient()
		consumer := newRedisQueue(t, tg, tg.Client, queue.WithPollInterval(time.Minute))
		producer := newRedisQueue(t, tg, other, queue.WithPollInterval(time.Minute))
		got := make(chan *queue.Delivery, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, _ := consumer.Dequeue(ctx)
			got <- d
		}()
		time.Sleep(50 * time.Millisecond) // let it block
		start := time.Now()
		if err := producer.Enqueue(context.Background(), queue.Job{ID: "j"}); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-got:
			if d == nil || d.ID != "j" {
				t.Fatalf("got %+v", d)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("the blocked Dequeue was not woken by another process's Enqueue")
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("woken after %v", elapsed)
		}
	})
}

// TestRedisDetachedAndRejoined: a renewal that cannot reach Redis reports
// Detached once, and Rejoined when it can again.
func TestRedisDetachedAndRejoined(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, faults := tg.NewClient()
		var mu sync.Mutex
		kinds := []queue.EventKind{}
		q := newRedisQueue(t, tg, c, queue.WithVisibilityTimeout(90*time.Millisecond), queue.WithTimeout(50*time.Millisecond),
			queue.WithObserver(func(e queue.Event) {
				if e.Kind == queue.Detached || e.Kind == queue.Rejoined {
					mu.Lock()
					kinds = append(kinds, e.Kind)
					mu.Unlock()
				}
			}))
		ctx := context.Background()
		if err := q.Enqueue(ctx, queue.Job{ID: "j"}); err != nil {
			t.Fatal(err)
		}
		d := dequeueWithin(t, q, 5*time.Second)
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(kinds) }
		faults.Cut()
		waitUntil(t, "detached", func() bool { return count() >= 1 })
		time.Sleep(100 * time.Millisecond) // more failed renewals: still one event
		faults.Heal()
		waitUntil(t, "rejoined", func() bool { return count() >= 2 })
		mu.Lock()
		if len(kinds) != 2 || kinds[0] != queue.Detached || kinds[1] != queue.Rejoined {
			t.Fatalf("events %v, want [detached rejoined]", kinds)
		}
		mu.Unlock()
		_ = q.Ack(ctx, d) // the lease may or may not have survived the cut
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisCloseLeavesNoGoroutines(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		before := runtime.NumGoroutine()
		q, err := queue.NewRedis(c, queue.WithPrefix(tg.Prefix), queue.WithPollInterval(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = q.Dequeue(context.Background()) }()
		}
		time.Sleep(50 * time.Millisecond) // blocked, the listener in BLPOP
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		_ = c.Close() // miniredis serves each connection with a goroutine of this process
		// redisx's idle workers end 200ms after their last call.
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestRedisABurstReachesEveryIdleConsumer: Enqueue wakes consumers only
// when the ready set was empty, so a burst relies on each Dequeue passing
// the wake-up on, within its process and across processes: five jobs
// enqueued at once reach five consumers blocked in two other processes
// long before their poll interval.
func TestRedisABurstReachesEveryIdleConsumer(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c1, _ := tg.NewClient()
		c2, _ := tg.NewClient()
		producer := newRedisQueue(t, tg, tg.Client, queue.WithPollInterval(time.Minute))
		consumers := []*queue.Redis{
			newRedisQueue(t, tg, c1, queue.WithPollInterval(time.Minute)),
			newRedisQueue(t, tg, c2, queue.WithPollInterval(time.Minute)),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got := make(chan string, 5)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := consumers[i%2]
				d, err := q.Dequeue(ctx)
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				got <- d.ID
				<-release // hold the job: a consumer takes one job only
				_ = q.Ack(context.Background(), d)
			}()
		}
		defer func() { close(release); wg.Wait() }()
		time.Sleep(50 * time.Millisecond) // let them block
		start := time.Now()
		for i := range 5 {
			if err := producer.Enqueue(context.Background(), queue.Job{ID: "j" + string(rune('0'+i))}); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			select {
			case id := <-got:
				if len(id) != 2 {
					t.Fatal(id)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("a job did not reach an idle consumer within 5s (poll interval 1 minute); %v since the burst", time.Since(start))
			}
		}
	})
}
