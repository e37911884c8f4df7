package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// fake is a Run whose calls are seen by the test and, while held, block
// until it releases them.
type fake struct {
	mu    sync.Mutex
	calls [][]int // items of each call, in the order the calls began
	ctxs  []context.Context
	hold  chan struct{} // nil: calls return at once
	fail  error         // every call's error
	began chan struct{} // one send a call, if not nil
}

func (f *fake) run(ctx context.Context, items []int, res []int) error {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(items))
	f.ctxs = append(f.ctxs, ctx)
	hold, fail, began := f.hold, f.fail, f.began
	f.mu.Unlock()
	if began != nil {
		began <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return fail
	}
	for i, it := range items {
		res[i] = 2 * it
	}
	return nil
}

func (f *fake) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, c := range f.calls {
		out = append(out, len(c))
	}
	return out
}

func (f *fake) sent() map[int]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]bool{}
	for _, c := range f.calls {
		for _, it := range c {
			out[it] = true
		}
	}
	return out
}

func newBatcher(t *testing.T, f *fake, c Config[int, int]) *Batcher[int, int] {
	t.Helper()
	c.Run = f.run
	if c.MaxOut == 0 {
		c.MaxOut = 1
	}
	if c.MaxItems == 0 {
		c.MaxItems = 100
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	b, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type outcome struct {
	item, res int
	err       error
}

// start runs Do(item) on a goroutine of its own; its outcome comes on the
// channel.
func start(ctx context.Context, b *Batcher[int, int], item int) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := b.Do(ctx, item)
		ch <- outcome{item, res, err}
	}()
	return ch
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// fill holds the batcher's MaxOut lone calls (items 1000...) out, then
// queues items; it returns the outcomes of the lone calls and of the
// queued ones.
func fill(t *testing.T, b *Batcher[int, int], ctx context.Context, items ...int) (lone, queued []<-chan outcome) {
	t.Helper()
	for i := range b.cfg.MaxOut {
		lone = append(lone, start(context.Background(), b, 1000+i))
		waitUntil(t, "a lone call is out", func() bool { return b.Out() == i+1 })
	}
	for i, it := range items {
		queued = append(queued, start(ctx, b, it))
		waitUntil(t, "a call is queued", func() bool { return b.Queued() == i+1 })
	}
	return lone, queued
}

func check(t *testing.T, chs []<-chan outcome) {
	t.Helper()
	for _, ch := range chs {
		o := <-ch
		if o.err != nil || o.res != 2*o.item {
			t.Errorf("item %d: %d, %v", o.item, o.res, o.err)
		}
	}
}

// TestAdaptive: calls with fewer than MaxOut in flight go out alone, on
// the caller's ctx; the calls that find MaxOut out queue and leave as one
// batch when a call comes back.
func TestAdaptive(t *testing.T) {
	f := &fake{hold: make(chan struct{})}
	b := newBatcher(t, f, Config[int, int]{MaxOut: 2})
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "mine")
	lone0 := start(ctx, b, 1)
	waitUntil(t, "first call out", func() bool { return b.Out() == 1 })
	lone1 := start(ctx, b, 2)
	waitUntil(t, "second call out", func() bool { return b.Out() == 2 })
	var queued []<-chan outcome
	for i := range 5 {
		queued = append(queued, start(context.Background(), b, 10+i))
		waitUntil(t, "queued", func() bool { return b.Queued() == i+1 })
	}
	if got := f.sizes(); !slices.Equal(got, []int{1, 1}) {
		t.Fatalf("calls before any came back: %v, want two lone ones", got)
	}
	close(f.hold)
	check(t, []<-chan outcome{lone0, lone1})
	check(t, queued)
	if got := f.sizes(); !slices.Equal(got, []int{1, 1, 5}) {
		t.Errorf("calls: %v, want two lone ones and a batch of 5", got)
	}
	if f.ctxs[0].Value(key{}) != "mine" || f.ctxs[1].Value(key{}) != "mine" {
		t.Error("a lone call did not run on its caller's ctx")
	}
	if n := b.Batched(); n != 5 {
		t.Errorf("Batched %d, want 5", n)
	}
	// Idle again: the next call goes alone at once.
	if res, err := b.Do(context.Background(), 7); res != 14 || err != nil {
		t.Errorf("lone call after the batch: %d, %v", res, err)
	}
	if got := f.sizes(); len(got) != 4 || got[3] != 1 {
		t.Errorf("calls: %v, want a last lone one", got)
	}
}

// TestLimits: a batch takes at most MaxItems items and MaxBytes bytes (by
// Size), in queue order; an item larger than MaxBytes still goes, alone.
func TestLimits(t *testing.T) {
	f := &fake{hold: make(chan struct{})}
	b := newBatcher(t, f, Config[int, int]{MaxItems: 3, MaxBytes: 10, Size: func(i int) int { return i }})
	// sizes: 1,2,3 | 4,5 (4+5+1 > 10? no: 4+5=9, +1=10 fits) ...
	lone, queued := fill(t, b, context.Background(), 1, 2, 3, 4, 5, 1, 20, 2)
	close(f.hold)
	check(t, lone)
	check(t, queued)
	want := []int{1, 3, 3, 1, 1} // lone; 1,2,3 (items); 4,5,1 (10 bytes); 20 (over the cap, alone); 2
	if got := f.sizes(); !slices.Equal(got, want) {
		t.Errorf("calls: %v, want %v", got, want)
	}
}

// TestHoldWhenContended: once calls have queued, a call that finds one
// in flight queues even below MaxOut, until a lone call comes back to an
// empty queue; without the option it goes alone.
func TestHoldWhenContended(t *testing.T) {
	for _, hold := range []bool{false, true} {
		gates := map[int]chan struct{}{}
		for _, it := range []int{1000, 1001, 40, 41} {
			gates[it] = make(chan struct{})
		}
		run := func(_ context.Context, items []int, res []int) error {
			if g, ok := gates[items[0]]; ok {
				<-g
			}
			for i, it := range items {
				res[i] = 2 * it
			}
			return nil
		}
		b, err := New(Config[int, int]{Run: run, MaxOut: 2, MaxItems: 10, HoldWhenContended: hold, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		startOut := func(item, out int) <-chan outcome {
			ch := start(context.Background(), b, item)
			waitUntil(t, "a call goes out alone", func() bool { return b.Out() == out })
			return ch
		}
		first, second := startOut(1000, 1), startOut(1001, 2)
		q1 := start(context.Background(), b, 10)
		q2 := start(context.Background(), b, 11)
		waitUntil(t, "two calls queue", func() bool { return b.Queued() == 2 })
		close(gates[1000]) // the batch of 10 and 11 goes in its slot
		check(t, []<-chan outcome{first, q1, q2})
		waitUntil(t, "the batch's slot is free", func() bool { return b.Out() == 1 })
		// The second lone call is still out, and calls have queued.
		late := start(context.Background(), b, 20)
		if hold {
			waitUntil(t, "the call queues", func() bool { return b.Queued() == 1 })
		} else {
			check(t, []<-chan outcome{late})
		}
		close(gates[1001])
		check(t, []<-chan outcome{second})
		if hold {
			check(t, []<-chan outcome{late})
		}
		want := uint64(2)
		if hold {
			want = 3
		}
		if n := b.Batched(); n != want {
			t.Errorf("hold %v: %d batched, want %d", hold, n, want)
		}
		// A lone call that comes back to an empty queue ends contention:
		// two lone calls go out side by side again.
		waitUntil(t, "idle", func() bool { return b.Out() == 0 })
		if _, err := b.Do(context.Background(), 30); err != nil {
			t.Fatal(err)
		}
		a, c := startOut(40, 1), startOut(41, 2)
		close(gates[40])
		close(gates[41])
		check(t, []<-chan outcome{a, c})
		if n := b.Batched(); n != want {
			t.Errorf("hold %v: %d batched after contention ended, want %d", hold, n, want)
		}
	}
}

// TestGiveUpQueued: a queued caller returns at its own bound (its ctx, or
// Timeout) and its item is never sent.
func TestGiveUpQueued(t *testing.T) {
	for _, byCtx := range []bool{false, true} {
		f := &fake{hold: make(chan struct{})}
		timeout := 10 * time.Second
		if !byCtx {
			timeout = 50 * time.Millisecond
		}
		b := newBatcher(t, f, Config[int, int]{Timeout: timeout})
		lone := start(context.Background(), b, 1000)
		waitUntil(t, "out", func() bool { return b.Out() == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		began := time.Now()
		if !byCtx {
			ctx = context.Background()
		}
		gone := start(ctx, b, 1)
		stays := start(context.Background(), b, 2)
		o := <-gone
		if !errors.Is(o.err, context.DeadlineExceeded) {
			t.Errorf("byCtx %v: queued call gave %v, want its deadline", byCtx, o.err)
		}
		if d, late := redistest.Late(began, 50*time.Millisecond); late {
			t.Errorf("byCtx %v: queued call returned after %v", byCtx, d)
		}
		if byCtx {
			// The queued call that stays is bounded by the batcher's
			// 10s Timeout only.
			close(f.hold)
			check(t, []<-chan outcome{lone, stays})
			if f.sent()[1] {
				t.Error("the abandoned item was sent")
			}
			if got := f.sizes(); !slices.Equal(got, []int{1, 1}) {
				t.Errorf("calls: %v, want the lone one and a batch of the one that stayed", got)
			}
		} else {
			if o := <-stays; !errors.Is(o.err, context.DeadlineExceeded) { // gone at Timeout too
				t.Errorf("the other queued call: %v, want the batcher's Timeout", o.err)
			}
			close(f.hold)
			<-lone
			if len(f.sizes()) != 1 {
				t.Errorf("calls: %v, want none after the lone one", f.sizes())
			}
		}
		cancel()
	}
}

// TestGiveUpOut: a caller whose batch is out still returns at its own
// bound; the batch runs under a ctx ending with its most patient caller's
// deadline, and the others get their results.
func TestGiveUpOut(t *testing.T) {
	f := &fake{hold: make(chan struct{}), began: make(chan struct{}, 10)}
	b := newBatcher(t, f, Config[int, int]{Timeout: 10 * time.Second})
	lone := start(context.Background(), b, 1000)
	<-f.began
	shortCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	short := start(shortCtx, b, 1)
	waitUntil(t, "queued", func() bool { return b.Queued() == 1 })
	patientCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	patient := start(patientCtx, b, 2)
	waitUntil(t, "queued", func() bool { return b.Queued() == 2 })
	f.mu.Lock()
	gate := f.hold
	f.hold = make(chan struct{}) // the batch holds on a gate of its own
	batchGate := f.hold
	f.mu.Unlock()
	gate <- struct{}{}
	<-lone
	<-f.began // the batch is out
	f.mu.Lock()
	batchCtx := f.ctxs[1]
	f.mu.Unlock()
	dl, ok := batchCtx.Deadline()
	want, _ := patientCtx.Deadline()
	if !ok || !dl.Equal(want) {
		t.Errorf("batch deadline %v (%v), want the patient caller's %v", dl, ok, want)
	}
	cancel() // the short caller gives up while its batch is out
	began := time.Now()
	if o := <-short; !errors.Is(o.err, context.Canceled) {
		t.Errorf("short caller: %v, want its ctx's error", o.err)
	}
	if d, late := redistest.Late(began, 0); late {
		t.Errorf("short caller returned after %v", d)
	}
	close(batchGate)
	check(t, []<-chan outcome{patient})
	if err := batchCtx.Err(); err == nil {
		t.Error("the batch's ctx outlived the batch")
	}
}

// TestFailure: a lone call's error is its caller's as it is; a batch's
// fails every item with a *BatchError that wraps it.
func TestFailure(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{hold: make(chan struct{}), fail: boom}
	b := newBatcher(t, f, Config[int, int]{})
	lone, queued := fill(t, b, context.Background(), 1, 2, 3)
	close(f.hold)
	if o := <-lone[0]; o.err != boom {
		t.Errorf("lone call: %v, want boom as it is", o.err)
	}
	for _, ch := range queued {
		o := <-ch
		var be *BatchError
		if !errors.As(o.err, &be) || be.Size != 3 || !errors.Is(o.err, boom) || o.err.Error() != "boom" {
			t.Errorf("item %d: %#v, want a *BatchError of 3 wrapping boom", o.item, o.err)
		}
	}
}

// TestFull: with MaxQueue calls waiting, another fails at once.
func TestFull(t *testing.T) {
	f := &fake{hold: make(chan struct{})}
	b := newBatcher(t, f, Config[int, int]{MaxQueue: 2})
	lone, queued := fill(t, b, context.Background(), 1, 2)
	began := time.Now()
	if _, err := b.Do(context.Background(), 3); !errors.Is(err, ErrFull) {
		t.Errorf("call on a full queue: %v", err)
	}
	if d, late := redistest.Late(began, 0); late {
		t.Errorf("the refusal took %v", d)
	}
	close(f.hold)
	check(t, lone)
	check(t, queued)
	if f.sent()[3] {
		t.Error("the refused item was sent")
	}
}

// TestFullCountsOnlyWaitingCallers: queued callers that gave up do not
// hold their places against MaxQueue: a new call takes them, and the
// items of those who left are never sent.
func TestFullCountsOnlyWaitingCallers(t *testing.T) {
	f := &fake{hold: make(chan struct{})}
	b := newBatcher(t, f, Config[int, int]{MaxQueue: 2})
	ctx, cancel := context.WithCancel(context.Background())
	lone, queued := fill(t, b, ctx, 1, 2)
	cancel()
	for _, ch := range queued {
		if o := <-ch; !errors.Is(o.err, context.Canceled) {
			t.Errorf("item %d: %v, want its ctx's error", o.item, o.err)
		}
	}
	stays := start(context.Background(), b, 3)
	waitUntil(t, "the new call is queued in the room of those who left", func() bool { return b.Queued() == 1 })
	close(f.hold)
	check(t, lone)
	check(t, []<-chan outcome{stays})
	if sent := f.sent(); sent[1] || sent[2] || !sent[3] {
		t.Errorf("sent %v: want 3 and neither item whose caller left", sent)
	}
}

// TestCancelledWhileQueuedIsNeverSent: a caller that gives up by its ctx
// (long before any deadline) leaves the queue; the batch that follows
// carries only those still waiting.
func TestCancelledWhileQueuedIsNeverSent(t *testing.T) {
	f := &fake{hold: make(chan struct{})}
	b := newBatcher(t, f, Config[int, int]{})
	ctx, cancel := context.WithCancel(context.Background())
	lone, queued := fill(t, b, ctx, 1)
	stays := start(context.Background(), b, 2)
	waitUntil(t, "both queued", func() bool { return b.Queued() == 2 })
	cancel()
	if o := <-queued[0]; !errors.Is(o.err, context.Canceled) {
		t.Errorf("cancelled call: %v", o.err)
	}
	close(f.hold)
	check(t, lone)
	check(t, []<-chan outcome{stays})
	if f.sent()[1] {
		t.Error("the cancelled item was sent")
	}
	if got := f.sizes(); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("calls: %v, want the lone one and a batch of the one that stayed", got)
	}
}

// TestConfig: New refuses a config it cannot use, with ErrInvalidConfig.
func TestConfig(t *testing.T) {
	run := func(context.Context, []int, []int) error { return nil }
	ok := Config[int, int]{Run: run, MaxOut: 1, MaxItems: 1, Timeout: time.Second}
	for name, mod := range map[string]func(*Config[int, int]){
		"no Run":       func(c *Config[int, int]) { c.Run = nil },
		"MaxOut 0":     func(c *Config[int, int]) { c.MaxOut = 0 },
		"MaxItems 0":   func(c *Config[int, int]) { c.MaxItems = 0 },
		"MaxBytes < 0": func(c *Config[int, int]) { c.MaxBytes = -1 },
		"MaxQueue < 0": func(c *Config[int, int]) { c.MaxQueue = -1 },
		"Timeout 0":    func(c *Config[int, int]) { c.Timeout = 0 },
		"Timeout < 0":  func(c *Config[int, int]) { c.Timeout = -time.Second },
	} {
		c := ok
		mod(&c)
		if b, err := New(c); !errors.Is(err, ErrInvalidConfig) || b != nil {
			t.Errorf("%s: %v, %v", name, b, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

// TestConcurrent: many callers, some giving up at random: every caller
// that got a result got its own item's, each item went out at most once,
// and no goroutine is left once all returned.
func TestConcurrent(t *testing.T) {
	baseline := runtime.NumGoroutine()
	var mu sync.Mutex
	seen := map[int]int{}
	run := func(_ context.Context, items []int, res []int) error {
		mu.Lock()
		for _, it := range items {
			seen[it]++
		}
		mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		for i, it := range items {
			res[i] = 2 * it
		}
		return nil
	}
	b, err := New(Config[int, int]{Run: run, MaxOut: 2, HoldWhenContended: true, MaxItems: 7, MaxBytes: 20,
		Size: func(i int) int { return i%5 + 1 }, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const callers, calls = 16, 200
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				item := c*calls + i
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if i%10 == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(i%3)*20*time.Microsecond)
				}
				res, err := b.Do(ctx, item)
				cancel()
				if err == nil && res != 2*item {
					t.Errorf("item %d: result %d", item, res)
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("item %d: %v", item, err)
				}
			}
		}()
	}
	wg.Wait()
	for it, n := range seen {
		if n != 1 {
			t.Errorf("item %d sent %d times", it, n)
		}
	}
	if b.Batched() == 0 {
		t.Error("no item went in a batch")
	}
	waitUntil(t, "the batcher is idle", func() bool { return b.Out() == 0 && b.Queued() == 0 })
	waitUntil(t, "no goroutine is left", func() bool { return runtime.NumGoroutine() <= baseline })
}
