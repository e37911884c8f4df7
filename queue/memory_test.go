package queue_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/queue"
	"github.com/sysdesign/patterns/queue/queuetest"
)

func newMemory(t *testing.T, cfg queuetest.Config) queue.Queue {
	t.Helper()
	q, err := queue.NewMemory(queue.WithClock(cfg.Now), queue.WithAging(cfg.Aging), queue.WithPollInterval(cfg.Poll))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func TestMemoryConformance(t *testing.T) {
	queuetest.Run(t, newMemory)
}

func TestOptionsRefuseNonsense(t *testing.T) {
	bad := map[string]queue.MemoryOption{
		"WithAging(0)":          queue.WithAging(0),
		"WithAging(-1s)":        queue.WithAging(-time.Second),
		"WithAging(> MaxAging)": queue.WithAging(queue.MaxAging + time.Second),
		"WithPollInterval(0)":   queue.WithPollInterval(0),
		"WithPollInterval(-1)":  queue.WithPollInterval(-1),
		"WithClock(nil)":        queue.WithClock(nil),
		"WithObserver(nil)":     queue.WithObserver(nil),
		"nil option":            nil,
	}
	for name, o := range bad {
		if q, err := queue.NewMemory(o); !errors.Is(err, queue.ErrInvalidConfig) || q != nil {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := queue.NewMemory(queue.WithLogger(nil), queue.WithAging(queue.MaxAging)); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
}

func TestMemoryCloseReleasesLeases(t *testing.T) {
	var events []queue.Event
	q, err := queue.NewMemory(queue.WithObserver(func(e queue.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"held", "queued"} {
		if err := q.Enqueue(ctx, queue.Job{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := q.Dequeue(ctx)
	if err != nil || d.ID != "held" {
		t.Fatalf("Dequeue = %v, %v", d, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != queue.Released || events[0].JobID != "held" || events[0].Kind.String() != "released" {
		t.Fatalf("events %+v, want one released for held", events)
	}
	if r, s, l, _ := q.Len(ctx); r != 2 || s != 0 || l != 0 {
		t.Fatalf("Len = %d %d %d, want 2 ready (the released job back), 0 leased", r, s, l)
	}
	if err := q.Ack(ctx, d); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Ack after Close = %v, want ErrClosed", err)
	}
	if got := q.Stats().Released; got != 1 {
		t.Fatalf("Stats.Released = %d", got)
	}
}

func TestMemoryLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	q, err := queue.NewMemory(queue.WithPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if i%2 == 0 {
				c = context.Background() // only Close ends these
			}
			_, _ = q.Dequeue(c)
		}()
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	q.Close()
	wg.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPriorityStringsParse(t *testing.T) {
	for p := queue.Low; p <= queue.Critical; p++ {
		got, err := queue.ParsePriority(strings.ToUpper(p.String()))
		if err != nil || got != p {
			t.Fatalf("ParsePriority(%s) = %v, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "urgent", "0", "normal "} {
		if _, err := queue.ParsePriority(s); !errors.Is(err, queue.ErrInvalidPriority) {
			t.Fatalf("ParsePriority(%q) = %v, want ErrInvalidPriority", s, err)
		}
	}
	if s := queue.Priority(9).String(); s != "Priority(9)" {
		t.Fatalf("String of a bad priority: %q", s)
	}
}
