package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sysdesign/patterns/queue"
)

var cases = []testCase{
	{name: "PriorityOrder", run: func(e *env) {
		e.enqueue(queue.Job{ID: "low", Priority: queue.Low})
		e.enqueue(queue.Job{ID: "normal"}) // zero value: Normal
		e.enqueue(queue.Job{ID: "critical", Priority: queue.Critical})
		e.enqueue(queue.Job{ID: "high", Priority: queue.High})
		e.wantOrder("critical", "high", "normal", "low")
	}},
	{name: "FIFOWithinPriority", run: func(e *env) {
		// IDs out of lexical order, all enqueued at one instant of the
		// clock: only the enqueue order can decide.
		ids := []string{"m", "z", "a", "q", "b"}
		for _, id := range ids {
			e.enqueue(queue.Job{ID: id, Priority: queue.High})
		}
		e.wantOrder(ids...)
	}},
	{name: "FIFOByDueTime", run: func(e *env) {
		now := e.clock.Now()
		e.enqueue(queue.Job{ID: "later", RunAt: now.Add(2 * time.Second)})
		e.enqueue(queue.Job{ID: "sooner", RunAt: now.Add(time.Second)})
		e.clock.Advance(3 * time.Second)
		e.wantOrder("sooner", "later")
	}},
	{name: "AgingServesLowUnderANormalFlood", run: func(e *env) {
		start := e.clock.Now()
		e.enqueue(queue.Job{ID: "low", Priority: queue.Low})
		for i := 0; ; i++ {
			e.enqueue(queue.Job{ID: fmt.Sprintf("n%d", i)})
			d := e.dequeue()
			e.ack(d)
			waited := e.clock.Now().Sub(start)
			if d.ID == "low" {
				if waited < Aging {
					e.t.Fatalf("low served after %v, before one aging period (%v)", waited, Aging)
				}
				return
			}
			if waited > Aging {
				e.t.Fatalf("low still starved after %v (aging %v)", waited, Aging)
			}
			e.clock.Advance(time.Second)
		}
	}},
	{name: "FreshCriticalBeatsNormalsYoungerThanTwoPeriods", run: func(e *env) {
		e.enqueue(queue.Job{ID: "normal-young"})
		e.clock.Advance(2*Aging - time.Second)
		e.enqueue(queue.Job{ID: "critical", Priority: queue.Critical})
		e.wantOrder("critical", "normal-young")

		e.enqueue(queue.Job{ID: "normal-old"})
		e.clock.Advance(2*Aging + time.Second)
		e.enqueue(queue.Job{ID: "critical-2", Priority: queue.Critical})
		e.wantOrder("normal-old", "critical-2")
	}},
	{name: "RunAtNeverEarly", run: func(e *env) {
		at := e.clock.Now().Add(time.Minute)
		e.enqueue(queue.Job{ID: "later", RunAt: at})
		e.none()
		if got := e.lens(); got != [3]int64{0, 1, 0} {
			e.t.Fatalf("Len = %v, want 0 ready, 1 scheduled", got)
		}
		e.clock.Advance(time.Minute - time.Millisecond)
		e.none()
		e.clock.Advance(time.Millisecond)
		d := e.dequeue()
		if d.ID != "later" || !d.RunAt.Equal(at) {
			e.t.Fatalf("got %s due %v, want later due %v", d.ID, d.RunAt, at)
		}
	}},
	{name: "BlockedDequeueWakesAtTheDueTime", run: func(e *env) {
		e.enqueue(queue.Job{ID: "later", RunAt: e.clock.Now().Add(time.Hour)})
		ch := e.dequeueAsync(e.ctx)
		e.stillBlocked(ch, "an hour early")
		e.clock.Advance(time.Hour)
		r := e.await(ch, 2*time.Second, "due job")
		if r.err != nil || r.d.ID != "later" {
			e.t.Fatalf("Dequeue = %v, %v", r.d, r.err)
		}
	}},
	{name: "EnqueueWakesABlockedDequeue", poll: 10 * time.Second, run: func(e *env) {
		ch := e.dequeueAsync(e.ctx)
		e.stillBlocked(ch, "empty queue")
		e.enqueue(queue.Job{ID: "now"})
		// Within 2s although the poll interval is 10s: woken, not polled.
		r := e.await(ch, 2*time.Second, "woken by Enqueue")
		if r.err != nil || r.d.ID != "now" {
			e.t.Fatalf("Dequeue = %v, %v", r.d, r.err)
		}
	}},
	{name: "RetryCountsDeferDoesNot", run: func(e *env) {
		e.enqueue(queue.Job{ID: "j", Payload: []byte("p"), Priority: queue.High})
		d := e.dequeue()
		if d.Attempt != 1 {
			e.t.Fatalf("first Attempt %d, want 1", d.Attempt)
		}
		enqueuedAt := d.EnqueuedAt
		steps := []struct {
			retry bool
			want  int
		}{{true, 2}, {false, 2}, {false, 2}, {true, 3}}
		for _, s := range steps {
			at := e.clock.Now().Add(time.Second)
			var err error
			if s.retry {
				err = e.q.Retry(e.ctx, d, at)
			} else {
				err = e.q.Defer(e.ctx, d, at)
			}
			if err != nil {
				e.t.Fatalf("retry=%v: %v", s.retry, err)
			}
			e.none() // due a second later, not before
			e.clock.Advance(time.Second)
			d = e.dequeue()
			if d.Attempt != s.want || d.ID != "j" || string(d.Payload) != "p" || d.Priority != queue.High || !d.RunAt.Equal(at) {
				e.t.Fatalf("after retry=%v: %+v, want Attempt %d due %v", s.retry, d, s.want, at)
			}
			if !d.EnqueuedAt.Equal(enqueuedAt) {
				e.t.Fatalf("EnqueuedAt moved: %v, was %v", d.EnqueuedAt, enqueuedAt)
			}
		}
		e.ack(d)
		if got := e.lens(); got != [3]int64{} {
			e.t.Fatalf("Len after Ack = %v", got)
		}
	}},
	{name: "RetryAtZeroOrPastIsDueNow", run: func(e *env) {
		e.enqueue(queue.Job{ID: "j"})
		d := e.dequeue()
		if err := e.q.Retry(e.ctx, d, time.Time{}); err != nil {
			e.t.Fatal(err)
		}
		d = e.dequeue()
		if err := e.q.Defer(e.ctx, d, e.clock.Now().Add(-time.Hour)); err != nil {
			e.t.Fatal(err)
		}
		if d = e.dequeue(); d.Attempt != 2 {
			e.t.Fatalf("Attempt %d, want 2", d.Attempt)
		}
	}},
	{name: "EndingADeliveryTwiceIsLeaseLost", run: func(e *env) {
		e.enqueue(queue.Job{ID: "j"})
		d := e.dequeue()
		e.ack(d)
		for name, end := range map[string]func() error{
			"Ack":   func() error { return e.q.Ack(e.ctx, d) },
			"Retry": func() error { return e.q.Retry(e.ctx, d, time.Time{}) },
			"Defer": func() error { return e.q.Defer(e.ctx, d, time.Time{}) },
		} {
			if err := end(); !errors.Is(err, queue.ErrLeaseLost) {
				e.t.Fatalf("%s after Ack: %v, want ErrLeaseLost", name, err)
			}
		}
		// A stale delivery cannot end the job's next delivery.
		e.enqueue(queue.Job{ID: "j"})
		d2 := e.dequeue()
		if err := e.q.Ack(e.ctx, d); !errors.Is(err, queue.ErrLeaseLost) {
			e.t.Fatalf("stale Ack: %v, want ErrLeaseLost", err)
		}
		e.ack(d2)
	}},
	{name: "Cancel", run: func(e *env) {
		e.enqueue(queue.Job{ID: "ready"})
		e.enqueue(queue.Job{ID: "scheduled", RunAt: e.clock.Now().Add(time.Hour)})
		e.enqueue(queue.Job{ID: "leased", Priority: queue.Critical})
		d := e.dequeue()
		if d.ID != "leased" {
			e.t.Fatalf("got %s", d.ID)
		}
		for id, want := range map[string]error{"ready": nil, "scheduled": nil, "leased": queue.ErrLeased, "unknown": queue.ErrNotFound} {
			if err := e.q.Cancel(e.ctx, id); !errors.Is(err, want) || (want == nil && err != nil) {
				e.t.Fatalf("Cancel(%s) = %v, want %v", id, err, want)
			}
		}
		if err := e.q.Cancel(e.ctx, "ready"); !errors.Is(err, queue.ErrNotFound) {
			e.t.Fatalf("second Cancel = %v, want ErrNotFound", err)
		}
		e.clock.Advance(2 * time.Hour)
		e.none()
		if got := e.lens(); got != [3]int64{0, 0, 1} {
			e.t.Fatalf("Len = %v, want only the leased job", got)
		}
		e.ack(d)
		e.enqueue(queue.Job{ID: "ready"}) // a cancelled ID may be used again
		e.wantOrder("ready")
	}},
	{name: "Duplicates", run: func(e *env) {
		e.enqueue(queue.Job{ID: "j", Payload: []byte("first")})
		if err := e.q.Enqueue(e.ctx, queue.Job{ID: "j", Payload: []byte("second")}); !errors.Is(err, queue.ErrDuplicate) {
			e.t.Fatalf("queued duplicate: %v", err)
		}
		d := e.dequeue()
		if string(d.Payload) != "first" {
			e.t.Fatalf("payload %q: the duplicate replaced the first", d.Payload)
		}
		if err := e.q.Enqueue(e.ctx, queue.Job{ID: "j"}); !errors.Is(err, queue.ErrDuplicate) {
			e.t.Fatalf("leased duplicate: %v", err)
		}
		e.ack(d)
		e.enqueue(queue.Job{ID: "j"}) // done: the ID is free again
		if got := e.lens(); got != [3]int64{1, 0, 0} {
			e.t.Fatalf("Len = %v", got)
		}
	}},
	{name: "PayloadRoundTrip", run: func(e *env) {
		payloads := map[string][]byte{
			"empty":  nil,
			"binary": {0, 1, 0xff, '|', '\n', 0},
			"max":    bytes.Repeat([]byte{'x'}, queue.MaxPayload),
		}
		for id, p := range payloads {
			e.enqueue(queue.Job{ID: id, Payload: p})
		}
		for range payloads {
			d := e.dequeue()
			if !bytes.Equal(d.Payload, payloads[d.ID]) {
				e.t.Fatalf("%s: payload of %d bytes came back as %d bytes", d.ID, len(payloads[d.ID]), len(d.Payload))
			}
			e.ack(d)
		}
		buf := []byte("mine")
		e.enqueue(queue.Job{ID: "reused", Payload: buf})
		copy(buf, "xxxx") // the caller may reuse its slice after Enqueue
		if d := e.dequeue(); string(d.Payload) != "mine" {
			e.t.Fatalf("payload %q: the queue kept the caller's slice", d.Payload)
		}
	}},
	{name: "BadInput", run: func(e *env) {
		bad := map[string]queue.Job{
			"empty ID":        {ID: ""},
			"long ID":         {ID: strings.Repeat("a", queue.MaxIDLen+1)},
			"brace in ID":     {ID: "{tag}"},
			"space in ID":     {ID: "a b"},
			"payload too big": {ID: "big", Payload: make([]byte, queue.MaxPayload+1)},
			"priority 5":      {ID: "p5", Priority: 5},
			"priority -1":     {ID: "pm", Priority: -1},
			"century ahead":   {ID: "far", RunAt: e.clock.Now().Add(101 * 365 * 24 * time.Hour)},
		}
		for name, j := range bad {
			if err := e.q.Enqueue(e.ctx, j); !errors.Is(err, queue.ErrInvalidJob) {
				e.t.Fatalf("%s: %v, want ErrInvalidJob", name, err)
			}
		}
		if err := e.q.Enqueue(e.ctx, bad["priority 5"]); !errors.Is(err, queue.ErrInvalidPriority) {
			e.t.Fatalf("bad priority: %v, want ErrInvalidPriority too", err)
		}
		e.enqueue(queue.Job{ID: strings.Repeat("a", queue.MaxIDLen)})
		e.enqueue(queue.Job{ID: "Az09._:-"})
		for name, err := range map[string]error{
			"Ack(nil)":       e.q.Ack(e.ctx, nil),
			"Retry(nil)":     e.q.Retry(e.ctx, nil, time.Time{}),
			"Defer(nil)":     e.q.Defer(e.ctx, nil, time.Time{}),
			"Ack(made-up)":   e.q.Ack(e.ctx, &queue.Delivery{Job: queue.Job{ID: "Az09._:-"}}),
			"Cancel(empty)":  e.q.Cancel(e.ctx, ""),
			"Cancel(bad id)": e.q.Cancel(e.ctx, "a{b}"),
		} {
			if !errors.Is(err, queue.ErrInvalidJob) {
				e.t.Fatalf("%s = %v, want ErrInvalidJob", name, err)
			}
		}
		if got := e.lens(); got != [3]int64{2, 0, 0} {
			e.t.Fatalf("Len = %v: bad input changed the queue", got)
		}
	}},
	{name: "CancelledContextEndsABlockedDequeue", poll: 10 * time.Second, run: func(e *env) {
		ctx, cancel := context.WithCancel(e.ctx)
		ch := e.dequeueAsync(ctx)
		e.stillBlocked(ch, "empty queue")
		cancel()
		r := e.await(ch, time.Second, "cancelled Dequeue")
		if !errors.Is(r.err, context.Canceled) || r.d != nil {
			e.t.Fatalf("Dequeue = %v, %v; want context.Canceled", r.d, r.err)
		}
		// The abandoned Dequeue took nothing: a job enqueued now is there.
		e.enqueue(queue.Job{ID: "j"})
		e.wantOrder("j")
	}},
	{name: "CloseReleasesWaiters", poll: 10 * time.Second, run: func(e *env) {
		ch := e.dequeueAsync(e.ctx)
		e.stillBlocked(ch, "empty queue")
		if err := e.q.Close(); err != nil {
			e.t.Fatal(err)
		}
		r := e.await(ch, 3*time.Second, "Dequeue during Close")
		if !errors.Is(r.err, queue.ErrClosed) {
			e.t.Fatalf("Dequeue after Close = %v, want ErrClosed", r.err)
		}
		if err := e.q.Enqueue(e.ctx, queue.Job{ID: "late"}); !errors.Is(err, queue.ErrClosed) {
			e.t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
		}
		if err := e.q.Close(); err != nil {
			e.t.Fatalf("second Close: %v", err)
		}
	}},
	{name: "Stats", run: func(e *env) {
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			e.enqueue(queue.Job{ID: id, Priority: queue.High})
		}
		e.enqueue(queue.Job{ID: "low", Priority: queue.Low})
		_ = e.q.Enqueue(e.ctx, queue.Job{ID: "a"}) // duplicate: not counted
		if err := e.q.Cancel(e.ctx, "e"); err != nil {
			e.t.Fatal(err)
		}
		a, b, c := e.dequeue(), e.dequeue(), e.dequeue()
		e.ack(a)
		if err := e.q.Retry(e.ctx, b, time.Time{}); err != nil {
			e.t.Fatal(err)
		}
		if err := e.q.Defer(e.ctx, c, time.Time{}); err != nil {
			e.t.Fatal(err)
		}
		s := e.q.Stats()
		want := queue.Stats{Enqueued: 6, Delivered: 3, Acked: 1, Retried: 1, Deferred: 1, Cancelled: 1}
		want.DeliveredByPriority[queue.High] = 3
		if s != want {
			e.t.Fatalf("Stats = %+v\nwant    %+v", s, want)
		}
	}},
	{name: "EveryJobExactlyOnceAcrossConsumers", run: func(e *env) { everyJobExactlyOnce(e, false) }},
	{name: "EveryJobExactlyOnceAcrossNextLoops", run: func(e *env) { everyJobExactlyOnce(e, true) }},
	{name: "NextAcksThenDequeues", poll: 10 * time.Second, run: func(e *env) {
		e.enqueue(queue.Job{ID: "a", Priority: queue.High})
		e.enqueue(queue.Job{ID: "b"})
		a := e.dequeue()
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		defer cancel()
		b, err := e.q.Next(ctx, a)
		if err != nil || b.ID != "b" {
			e.t.Fatalf("Next after a: %v, %v; want b", b, err)
		}
		if got := e.lens(); got != [3]int64{0, 0, 1} {
			e.t.Fatalf("Len after Next = %v, want a acked, b leased", got)
		}
		e.enqueue(queue.Job{ID: "c"})
		if d, err := e.q.Next(ctx, a); !errors.Is(err, queue.ErrLeaseLost) || d != nil {
			e.t.Fatalf("Next acking a twice: %v, %v; want ErrLeaseLost", d, err)
		}
		if got := e.lens(); got != [3]int64{1, 0, 1} {
			e.t.Fatalf("Len after a failed Next = %v: it dequeued", got)
		}
		// A worker told to stop after its job still acks it.
		stopped, stop := context.WithCancel(e.ctx)
		stop()
		if d, err := e.q.Next(stopped, b); !errors.Is(err, context.Canceled) || d != nil {
			e.t.Fatalf("Next with a done ctx: %v, %v; want context.Canceled", d, err)
		}
		if got := e.lens(); got != [3]int64{1, 0, 0} {
			e.t.Fatalf("Len after Next with a done ctx = %v, want b acked", got)
		}
		c, err := e.q.Next(ctx, nil) // nil: Dequeue
		if err != nil || c.ID != "c" {
			e.t.Fatalf("Next(nil): %v, %v; want c", c, err)
		}
		// Nothing left: Next acks c, then waits like Dequeue until a job
		// comes (the poll interval is long: only the wake-up can end it).
		ch := make(chan result, 1)
		go func() {
			d, err := e.q.Next(ctx, c)
			ch <- result{d, err}
		}()
		e.stillBlocked(ch, "Next with nothing ready")
		if got := e.lens(); got != [3]int64{} {
			e.t.Fatalf("Len while Next waits = %v, want c acked", got)
		}
		e.enqueue(queue.Job{ID: "d"})
		if r := e.await(ch, 5*time.Second, "Next after an Enqueue"); r.err != nil || r.d.ID != "d" {
			e.t.Fatalf("Next woken: %v, %v; want d", r.d, r.err)
		}
	}},
}

// everyJobExactlyOnce has four consumers take 200 jobs of mixed
// priorities, each with Dequeue then Ack, or with a Next loop (useNext).
func everyJobExactlyOnce(e *env, useNext bool) {
	const consumers, jobs = 4, 200
	prios := []queue.Priority{queue.Low, queue.Normal, queue.High, queue.Critical}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		seen = make(map[string]int)
		wg   sync.WaitGroup
		errs = make(chan error, consumers)
	)
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var done *queue.Delivery // acked by the next Next
			for {
				var d *queue.Delivery
				var err error
				if useNext {
					d, err = e.q.Next(ctx, done)
				} else {
					d, err = e.q.Dequeue(ctx)
				}
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				mu.Lock()
				seen[d.ID]++
				mu.Unlock()
				if useNext {
					done = d
					continue
				}
				if err := e.q.Ack(e.ctx, d); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range jobs {
		e.enqueue(queue.Job{ID: fmt.Sprintf("j%d", i), Priority: prios[i%len(prios)]})
	}
	waitFor(e.t, "every job delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == jobs
	})
	cancel() // a Next loop acks its last job on the way out
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatalf("consumer: %v", err)
	}
	for id, n := range seen {
		if n != 1 {
			e.t.Fatalf("%s delivered %d times", id, n)
		}
	}
	if got := e.lens(); got != [3]int64{} {
		e.t.Fatalf("Len = %v after all acked", got)
	}
}
