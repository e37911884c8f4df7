package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisEnqueueBatchAnswersEachJobAndRunsTwiceSafely: one enqueue
// script call for several jobs answers each on its own (a duplicate of a
// queued job, and of a job earlier in the batch, is refused; the others
// are queued, now or scheduled), and the same call run again, as go-redis
// does after a lost reply, gives the same answers and queues nothing more.
func TestRedisEnqueueBatchAnswersEachJobAndRunsTwiceSafely(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		q, err := NewRedis(tg.Client, WithPrefix(tg.Prefix), WithName("batch"))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ctx := context.Background()
		if err := q.Enqueue(ctx, Job{ID: "old"}); err != nil {
			t.Fatal(err)
		}
		later, err := q.dueArg(time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		items := []enqueueItem{
			{id: "a", payload: []byte("pa"), prio: High},
			{id: "old", prio: Normal},
			{id: "b", payload: []byte("pb"), prio: Low, due: later},
			{id: "a", payload: []byte("again"), prio: Critical},
			{id: "c", prio: Critical},
		}
		wantDup := []bool{false, true, false, true, false}
		args := q.enqueueArgs(items)
		for run := 1; run <= 2; run++ {
			errs := make([]error, len(items))
			if err := q.runEnqueue(ctx, items, args, errs); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			for i, err := range errs {
				if dup := errors.Is(err, ErrDuplicate); dup != wantDup[i] || (!dup && err != nil) {
					t.Fatalf("run %d, job %d (%s): %v, want duplicate %v", run, i, items[i].id, err, wantDup[i])
				}
			}
			ready, scheduled, leased, err := q.Len(ctx)
			if err != nil || ready != 3 || scheduled != 1 || leased != 0 {
				t.Fatalf("run %d: Len %d ready, %d scheduled, %d leased (%v); want 3, 1, 0", run, ready, scheduled, leased, err)
			}
		}
		// Most urgent first; the batch's first "a" is the one kept.
		for _, want := range []struct {
			id      string
			payload string
		}{{"c", ""}, {"a", "pa"}, {"old", ""}} {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			d, err := q.Dequeue(dctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if d.ID != want.id || string(d.Payload) != want.payload || d.Attempt != 1 {
				t.Fatalf("got %s %q attempt %d, want %s %q attempt 1", d.ID, d.Payload, d.Attempt, want.id, want.payload)
			}
			if err := q.Ack(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	})
}
