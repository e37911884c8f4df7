package redisx

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// countScribbled counts, in KEYS[1], every run that saw ARGV[1] scribbled
// over, and echoes ARGV[1].
var countScribbled = redis.NewScript(`if ARGV[1] == 'scribbled' then redis.call('INCR', KEYS[1]) end
return ARGV[1]`)

// pooledArgs is a call's keys and args in pooled storage.
type pooledArgs struct {
	keys [1]string
	args [1]any
}

// argsOwner is one call's Releaser: Release scribbles over the call's
// pooled args and pools them, as a caller that reuses its buffers would.
type argsOwner struct {
	a        *pooledArgs
	pool     *sync.Pool
	scribble string // the key a scribbled call counts in
	released atomic.Int32
}

func (o *argsOwner) Release() {
	if o.released.Add(1) != 1 {
		panic("released twice")
	}
	o.a.keys[0], o.a.args[0] = o.scribble, "scribbled"
	o.pool.Put(o.a)
}

// The ownership rule of Eval's keys and args (see Eval): a call that
// returned an answer has released its owner by then, and nothing reads
// them afterwards; a call given up on at its deadline reads them until its
// owner is released, never after. Pooled args, scribbled over as soon as
// they are released, under -race, with many goroutines pipelining, with
// deadlines that expire while calls queue or ride a pipeline, and with
// SCRIPT FLUSH every few milliseconds (the NOSCRIPT retry reads the args
// again): every answer is the caller's own, and no run on the server saw
// scribbled args. On miniredis and a private redis-server (SCRIPT FLUSH
// must not disturb other tests' servers), on both client kinds.
func TestEvalArgsAreNotReadAfterRelease(t *testing.T) {
	targets := map[string]func(t *testing.T, opts []redistest.ClientOption) (redis.UniversalClient, func()){
		"miniredis": func(t *testing.T, opts []redistest.ClientOption) (redis.UniversalClient, func()) {
			tg := redistest.New(t, redistest.Mini)
			c, _ := tg.NewClient(opts...)
			return c, func() { _ = tg.Client.ScriptFlush(context.Background()).Err() }
		},
		"redis": func(t *testing.T, opts []redistest.ClientOption) (redis.UniversalClient, func()) {
			s := redistest.StartServer(t)
			c, _ := s.Client(opts...)
			return c, s.ScriptFlush
		},
	}
	for target, start := range targets {
		for kind, opts := range redistest.ClientKinds() {
			t.Run(target+"/"+kind, func(t *testing.T) {
				c, flush := start(t, opts)
				checkArgsOwnership(t, c, flush)
			})
		}
	}
}

func checkArgsOwnership(t *testing.T, c redis.UniversalClient, flush func()) {
	const (
		goroutines = 16
		calls      = 100
	)
	ctx := context.Background()
	scribbled := "scribbled"
	pool := &sync.Pool{New: func() any { return new(pooledArgs) }}
	b := NewBound(c, time.Second)
	if !b.Pipelining() {
		t.Fatal("the bound does not pipeline")
	}

	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
				flush()
			}
		}
	}()

	var answered, gaveUp atomic.Int64
	var pendingMu sync.Mutex
	var pendingOwners []*argsOwner // of the calls given up on
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				a := pool.Get().(*pooledArgs)
				owner := &argsOwner{a: a, pool: pool, scribble: scribbled}
				want := strconv.Itoa(g) + "-" + strconv.Itoa(i)
				a.keys[0], a.args[0] = "k", want
				// A third of the calls have a deadline of a millisecond or
				// two: it expires while they queue, or ride a pipeline.
				callCtx, cancel := ctx, context.CancelFunc(func() {})
				if rand.IntN(3) == 0 {
					callCtx, cancel = context.WithTimeout(ctx, time.Duration(500+rand.IntN(1500))*time.Microsecond)
				}
				got, err := b.Eval(callCtx, c, countScribbled, a.keys[:], a.args[:], owner).Text()
				cancel()
				switch {
				case err == nil:
					answered.Add(1)
					if owner.released.Load() != 1 {
						t.Errorf("a call answered %q before releasing its owner", got)
					}
					if got != want {
						t.Errorf("got %q, want %q: the call read another's args", got, want)
					}
				case errors.Is(err, context.DeadlineExceeded):
					gaveUp.Add(1)
					pendingMu.Lock()
					pendingOwners = append(pendingOwners, owner)
					pendingMu.Unlock()
				default:
					// A socket deadline on a starved machine: the call
					// came back with its error, its owner released.
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Errorf("call: %v", err)
					} else if owner.released.Load() != 1 {
						t.Errorf("a call failed (%v) before releasing its owner", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-flushed

	// The calls given up on end soon on a healthy server, and release
	// their owners then.
	deadline := time.Now().Add(5 * time.Second)
	for _, o := range pendingOwners {
		for o.released.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if o.released.Load() != 1 {
			t.Fatalf("a call given up on released its owner %d times, want 1", o.released.Load())
		}
	}
	deadline = time.Now().Add(200 * time.Millisecond)
	for {
		n, err := c.Get(ctx, scribbled).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if n != "" {
			t.Fatalf("%s runs saw scribbled args", n)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pipelines, piped := PipelineStats(c)
	t.Logf("%d answered, %d given up; %d pipelines carried %d calls", answered.Load(), gaveUp.Load(), pipelines, piped)
	if answered.Load() == 0 || gaveUp.Load() == 0 || pipelines == 0 {
		t.Fatalf("the run did not exercise answers (%d), deadlines (%d) and pipelines (%d)", answered.Load(), gaveUp.Load(), pipelines)
	}
}
