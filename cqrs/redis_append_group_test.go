package cqrs

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisAppendGroup: concurrent appends are merged into batch script
// calls, with the results each would have had alone: every stream ends at
// its version, the global order has every event once, and of writers
// racing on one stream with the same expected version exactly one wins.
func TestRedisAppendGroup(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix), WithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		const writers, appends = 12, 15
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[int64]int{} // version of the raced stream -> winners
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := "acc-" + strconv.Itoa(w)
				var v int64
				for i := range appends {
					a, err := s.AppendWithPosition(context.Background(), stream, v, deposited(i))
					if err != nil || a.Version != v+1 || a.Position == 0 {
						t.Errorf("%s append %d: %+v, %v", stream, i, a, err)
						return
					}
					v = a.Version
					// Everyone races for the next version of one stream.
					raced, err := s.Append(context.Background(), "race", int64(i), deposited(w))
					var c *ConflictError
					switch {
					case err == nil:
						mu.Lock()
						wins[raced]++
						mu.Unlock()
					case !errors.As(err, &c):
						t.Errorf("race %d: %v", i, err)
					}
				}
			}()
		}
		wg.Wait()
		if s.group.Batched() == 0 {
			t.Error("no append rode a batch")
		}
		all, err := s.ReadAll(context.Background(), 1, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		racedTo := int64(len(mustLoad(t, s, "race", 1)))
		if want := writers*appends + int(racedTo); len(all) != want {
			t.Errorf("%d events in the log, want %d", len(all), want)
		}
		for i, e := range all {
			if e.Position != int64(i+1) {
				t.Fatalf("event %d at position %d", i, e.Position)
			}
		}
		for v := int64(1); v <= racedTo; v++ {
			if wins[v] != 1 {
				t.Errorf("version %d of the raced stream: %d winners", v, wins[v])
			}
		}
	})
}

// TestRedisAppendGroupGivesUp: an append queued behind calls that hang
// returns at its own deadline, and is never sent once its caller gave up.
func TestRedisAppendGroupGivesUp(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, faults := tg.NewClient()
	const timeout = 300 * time.Millisecond
	s, err := NewRedisStore(c, WithPrefix(tg.Prefix), WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	faults.Hang()
	var wg sync.WaitGroup
	for i := range groupMaxOut {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.Append(context.Background(), "hung-"+strconv.Itoa(i), AnyVersion, deposited(i))
		}()
	}
	// Wait until they are all out, so that the next append queues.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		out := s.group.Out()
		if out == groupMaxOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d appends out", out, groupMaxOut)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Append(ctx, "queued", NoStream, deposited(9))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queued append: %v, want its deadline", err)
	}
	if d, late := redistest.Late(start, 50*time.Millisecond); late {
		t.Errorf("queued append returned after %v", d)
	}
	wg.Wait() // the hung appends give up at the store's timeout
	faults.Heal()
	if _, err := s.Append(context.Background(), "after", NoStream, deposited(1)); err != nil {
		t.Fatalf("append after the heal: %v", err)
	}
	if evs := mustLoad(t, s, "queued", 1); len(evs) != 0 {
		t.Errorf("the abandoned append was sent: %d events", len(evs))
	}
	if b := s.group.Batched(); b != 0 {
		t.Errorf("%d appends batched, want none (the queued one was abandoned)", b)
	}
}

// TestRedisAppendGroupFull: with the queue of waiting appends full,
// another append fails at once instead of growing the queue.
func TestRedisAppendGroupFull(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, faults := tg.NewClient()
	s, err := NewRedisStore(c, WithPrefix(tg.Prefix), WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s.group, err = newAppendGroup(s, 1); err != nil {
		t.Fatal(err)
	}
	faults.Hang()
	waitFor := func(what string, ok func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	hung, release := context.WithCancel(context.Background())
	var out, queued sync.WaitGroup
	for i := range groupMaxOut {
		out.Add(1)
		go func() {
			defer out.Done()
			_, _ = s.Append(hung, "hung-"+strconv.Itoa(i), AnyVersion, deposited(i))
		}()
		waitFor("a lone append never went out", func() bool { return s.group.Out() == i+1 })
	}
	queuedCtx, leave := context.WithCancel(context.Background())
	queued.Add(1)
	go func() {
		defer queued.Done()
		_, _ = s.Append(queuedCtx, "queued", NoStream, deposited(1))
	}()
	waitFor("an append never queued", func() bool { return s.group.Queued() == 1 })

	before := s.Stats().Errors
	start := time.Now()
	_, err = s.Append(context.Background(), "full", NoStream, deposited(1))
	if !errors.Is(err, errGroupFull) {
		t.Errorf("append on a full queue: %v", err)
	}
	if d, late := redistest.Late(start, 0); late {
		t.Errorf("the refused append returned after %v", d)
	}
	if st := s.Stats(); st.Errors != before+1 {
		t.Errorf("stats: %+v, want the refusal counted as an error (%d before)", st, before)
	}
	leave()
	queued.Wait()
	release()
	out.Wait()
	faults.Heal()
	if _, err := s.Append(context.Background(), "after", NoStream, deposited(1)); err != nil {
		t.Fatalf("append after the heal: %v", err)
	}
	for _, stream := range []string{"full", "queued"} {
		if evs := mustLoad(t, s, stream, 1); len(evs) != 0 {
			t.Errorf("%s: %d events written", stream, len(evs))
		}
	}
	if b := s.group.Batched(); b != 0 {
		t.Errorf("%d appends batched, want none", b)
	}
}
