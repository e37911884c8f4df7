package redisx

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// roundTrips counts the script calls a client sends: on their own, and in
// pipelines (go-redis's connection set-up pipelines are not counted).
type roundTrips struct{ singles, pipelines atomic.Int64 }

func isScript(cmd redis.Cmder) bool {
	name := cmd.Name()
	return name == "evalsha" || name == "eval"
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			h.singles.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && isScript(cmds[0]) {
			h.pipelines.Add(1)
		}
		return next(ctx, cmds)
	}
}

func (h *roundTrips) total() int64 { return h.singles.Load() + h.pipelines.Load() }

// counted returns a new client of tg with a round-trip counter on it.
func counted(tg *redistest.Target, opts ...redistest.ClientOption) (redis.UniversalClient, *redistest.Faults, *roundTrips) {
	c, f := tg.NewClient(opts...)
	h := &roundTrips{}
	c.AddHook(h)
	return c, f, h
}

// hammer makes calls Evals of echo from g goroutines at once and checks
// that each gets its own reply.
func hammer(t *testing.T, b Bound, c redis.UniversalClient, key string, g, calls int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range calls {
				want := strconv.Itoa(w) + ":" + strconv.Itoa(i)
				got, err := b.Eval(context.Background(), c, echo, []string{key}, []any{want}, nil).Text()
				if err != nil || got != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
}

// Many goroutines' Evals leave in pipelines: fewer round trips than calls,
// every reply to its caller, on every target and client kind.
func TestEvalPipelinesConcurrentCalls(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, _, trips := counted(tg, opts...)
				b := NewBound(c, 5*time.Second)
				if !b.Pipelining() {
					t.Fatal("a bound on a go-redis client does not pipeline")
				}
				const g, calls = 32, 50
				before := trips.total()
				hammer(t, b, c, tg.Key("k"), g, calls)
				sent := trips.total() - before
				if sent >= g*calls/2 {
					t.Fatalf("%d round trips for %d calls: not pipelined", sent, g*calls)
				}
				if trips.pipelines.Load() == 0 {
					t.Fatal("no pipeline sent")
				}
			})
		}
	})
}

// The opt-out sends every call on its own.
func TestWithoutPipeliningSendsEachCallAlone(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, _, trips := counted(tg)
	b := NewBound(c, 5*time.Second).WithoutPipelining()
	hammer(t, b, c, "k", 16, 20)
	if trips.pipelines.Load() != 0 || trips.singles.Load() < 16*20 {
		t.Fatalf("%d pipelines, %d singles for %d calls", trips.pipelines.Load(), trips.singles.Load(), 16*20)
	}
}

// One goroutine's calls go straight out, one command each, never in a
// pipeline: a lone caller waits for no company.
func TestEvalLoneCallGoesStraightOut(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, _, trips := counted(tg, opts...)
				b := NewBound(c, 5*time.Second)
				_ = b.Eval(context.Background(), c, echo, []string{tg.Key("k")}, []any{"warm"}, nil) // loads the script
				before := trips.singles.Load()
				for i := range 20 {
					want := strconv.Itoa(i)
					if got, err := b.Eval(context.Background(), c, echo, []string{tg.Key("k")}, []any{want}, nil).Text(); err != nil || got != want {
						t.Fatalf("got %q, %v", got, err)
					}
				}
				if p, s := trips.pipelines.Load(), trips.singles.Load()-before; p != 0 || s != 20 {
					t.Fatalf("%d pipelines and %d commands for 20 sequential calls", p, s)
				}
			})
		}
	})
}

// A Ring (or any client that is not a *redis.Client or ClusterClient) is
// called plainly.
func TestRingIsNotPipelined(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if NewBound(ring, time.Second).Pipelining() {
		t.Fatal("a Ring bound pipelines")
	}
	var b Bound
	if b.Pipelining() {
		t.Fatal("the zero Bound pipelines")
	}
}

// Bounds on one client share its coalescer, so different packages' calls
// ride the same pipelines.
func TestBoundsOnOneClientShareACoalescer(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	other := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer other.Close()
	if NewBound(c, time.Second).pipe != NewBound(c, 0).pipe {
		t.Fatal("two bounds on one client have two coalescers")
	}
	if NewBound(c, time.Second).pipe == NewBound(other, time.Second).pipe {
		t.Fatal("two clients share a coalescer")
	}
}

// A frozen server: calls with a short bound return by it, whether they
// went out alone or queued for a pipeline, while calls with a longer bound
// are answered once the server thaws. Nothing the short calls left behind
// holds the others up.
func TestEvalPipelinedBoundHoldsOnAFrozenServer(t *testing.T) {
	s := redistest.StartServer(t)
	for name, opts := range redistest.ClientKinds() {
		t.Run(name, func(t *testing.T) {
			c, _ := s.Client(opts...)
			short, long := NewBound(c, 50*time.Millisecond), NewBound(c, 900*time.Millisecond)
			s.Freeze()
			thawed := false
			defer func() {
				if !thawed {
					s.Thaw()
				}
			}()
			var wg sync.WaitGroup
			var lateBy atomic.Int64 // the latest short call's duration, if one was late
			probe := redistest.StartWakeProbe()
			shortErrs := make(chan error, 8)
			longErrs := make(chan error, 8)
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						start := time.Now()
						err := short.Eval(context.Background(), c, echo, []string{"k"}, []any{"s"}, nil).Err()
						// The bound plus 100ms, excusing only the time the
						// test process itself stood still (a loaded machine).
						if d, late := redistest.Late(start, 100*time.Millisecond); late {
							lateBy.Store(int64(d))
						}
						shortErrs <- err
						return
					}
					got, err := long.Eval(context.Background(), c, echo, []string{"k"}, []any{"l"}, nil).Text()
					if err == nil && got != "l" {
						err = fmt.Errorf("reply %q", got)
					}
					longErrs <- err
				}()
			}
			for range 8 {
				if err := <-shortErrs; !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("short call: %v, want DeadlineExceeded", err)
				}
			}
			// A timer that fired on time still waits for a CPU on a loaded
			// machine: allow 3 times the worst wake-up delay seen meanwhile.
			worst, _ := probe.Stop()
			if d := time.Duration(lateBy.Load()); d > 150*time.Millisecond+3*worst {
				t.Errorf("a short call took %v, bound 50ms (+100ms slack, the process's own stalls, and 3 x %v wake-up delay)", d, worst)
			}
			s.Thaw()
			thawed = true
			wg.Wait()
			close(longErrs)
			for err := range longErrs {
				if err != nil {
					t.Errorf("long call after the thaw: %v", err)
				}
			}
		})
	}
}

// A caller that cancels its ctx returns at once with context.Canceled,
// queued or not, on a hung connection.
func TestEvalPipelinedCancel(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, faults := tg.NewClient()
		b := NewBound(c, 0)
		faults.Hang()
		defer faults.Heal()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- b.Eval(ctx, c, echo, []string{tg.Key("k")}, []any{"x"}, nil).Err()
			}()
		}
		time.Sleep(20 * time.Millisecond)
		start := time.Now()
		cancel()
		wg.Wait()
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("cancelled calls took %v to return", d)
		}
		close(errs)
		for err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want Canceled", err)
			}
		}
	})
}

// flushScripts empties the script cache of every master of c.
func flushScripts(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.ScriptFlush(ctx).Err() })
	} else {
		err = c.ScriptFlush(ctx).Err()
	}
	if err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
}

// A pipeline of a script no node has seen yet: every call fails with
// NOSCRIPT in the pipeline, goes again as EVAL, and is answered; on the
// Cluster the keys span every master, so each node loads it for itself.
func TestPipelineReloadsAForgottenScript(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _, trips := counted(tg)
		fresh := redis.NewScript("-- " + tg.Prefix + "\nreturn ARGV[1]")
		p := new(coalescer)
		h, _ := p.claim(time.Time{}) // as a worker would hold one
		var batch []*call
		for i := range 24 {
			w := getCall()
			w.ctx, w.client, w.script = context.Background(), c, fresh
			w.keys, w.args = []string{tg.Key("k" + strconv.Itoa(i))}, []any{strconv.Itoa(i)}
			batch = append(batch, w)
		}
		calls := append([]*call(nil), batch...) // drain reuses batch's storage
		p.drain(h, batch)
		for i, w := range calls {
			<-w.done
			if got, err := w.cmd.Text(); err != nil || got != strconv.Itoa(i) {
				t.Fatalf("call %d: %q, %v", i, got, err)
			}
		}
		if got := trips.pipelines.Load(); got != 2 {
			t.Fatalf("%d pipelines, want 2 (EVALSHA, then EVAL for the NOSCRIPTs)", got)
		}
		if p.busy() != 0 {
			t.Fatalf("%d slots busy after the queue drained", p.busy())
		}
	})
}

// SCRIPT FLUSH while many goroutines call: no call fails.
func TestEvalSurvivesScriptFlushMidRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		b := NewBound(c, 5*time.Second)
		stop := make(chan struct{})
		flushed := make(chan struct{})
		go func() {
			defer close(flushed)
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					flushScripts(t, c)
				}
			}
		}()
		hammer(t, b, c, tg.Key("k"), 16, 40)
		close(stop)
		<-flushed
	})
}

// Workers and the coalescer go idle once the calls stop: no goroutine is
// left behind and nothing stays queued.
func TestPipelinedCallsLeaveNoGoroutine(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, _ := tg.NewClient()
	b := NewBound(c, 5*time.Second)
	hammer(t, b, c, "warm", 4, 5)
	settled := func() int {
		deadline := time.Now().Add(3 * time.Second)
		n := runtime.NumGoroutine()
		for time.Now().Before(deadline) {
			time.Sleep(workerIdle / 2)
			if m := runtime.NumGoroutine(); m == n {
				return m
			} else {
				n = m
			}
		}
		return n
	}
	baseline := settled()
	hammer(t, b, c, "k", 32, 30)
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Fatalf("%d goroutines, %d before the calls", n, baseline)
	}
	// The last worker counts itself back in just after it answered.
	var out, queued int
	for deadline := time.Now().Add(time.Second); ; {
		b.pipe.mu.Lock()
		queued = len(b.pipe.queue)
		b.pipe.mu.Unlock()
		out = b.pipe.busy()
		if out == 0 && queued == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if out != 0 || queued != 0 {
		t.Fatalf("coalescer not idle: %d out, %d queued", out, queued)
	}
}

func (p *coalescer) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.slots {
		if s.busy {
			n++
		}
	}
	return n
}

// Calls stuck on a hung connection (until the client's 1s ReadTimeout)
// hold no slot once their callers gave up: after the fault heals, the
// next calls go out on new connections and are answered within their
// bound, both alone and in pipelines.
func TestEvalStuckCallsDoNotHoldUpLaterOnes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, opts := range redistest.ClientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(opts...)
				b := NewBound(c, 50*time.Millisecond)
				key := tg.Key("k")
				faults.Hang()
				var wg sync.WaitGroup
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := b.Eval(context.Background(), c, echo, []string{key}, []any{"x"}, nil).Err(); !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("hung: %v, want DeadlineExceeded", err)
						}
					}()
				}
				wg.Wait()
				faults.Heal()
				// Held up by the stuck calls, these would wait for the 1s
				// read timeout and fail at their bound.
				hammer(t, NewBound(c, 500*time.Millisecond), c, key, 8, 3)
			})
		}
	})
}

// A client's coalescer entry goes once the client is collected: the
// registry keeps no client alive.
func TestCoalescerEntryGoesWithItsClient(t *testing.T) {
	addr := func() uintptr { // the client is unreachable once this returns
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		defer c.Close()
		_ = NewBound(c, time.Second)
		return coalescerKey(c)
	}()
	if _, ok := coalescers.Load(addr); !ok {
		t.Fatal("no entry for a bound's client")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if _, ok := coalescers.Load(addr); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("entry still there 5s after its client became unreachable")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func coalescerKey(c *redis.Client) uintptr { return uintptr(unsafe.Pointer(c)) }
