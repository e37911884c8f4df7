package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 5 * time.Second
	tick    = time.Millisecond
)

// waiters is g.Waiters, short for the tests' polls.
func waiters[K comparable, V any](g *Group[K, V], key K) int { return g.Waiters(key) }

// result is what one Do returned.
type result struct {
	v      int
	shared bool
	err    error
}

// goDo calls g.Do in a goroutine and hands back its result.
func goDo(g *Group[string, int], ctx context.Context, key string, fn func(context.Context) (int, error)) <-chan result {
	out := make(chan result, 1)
	go func() {
		v, shared, err := g.Do(ctx, key, fn)
		out <- result{v, shared, err}
	}()
	return out
}

func TestConcurrentCallersShareOneRun(t *testing.T) {
	var g Group[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 42, nil
	}
	const n = 20
	outs := make([]<-chan result, n)
	for i := range outs {
		outs[i] = goDo(&g, context.Background(), "k", fn)
	}
	require.Eventually(t, func() bool { return waiters(&g, "k") == n }, waitFor, tick, "every caller waits")
	close(release)
	shared := 0
	for _, out := range outs {
		r := <-out
		require.NoError(t, r.err)
		assert.Equal(t, 42, r.v)
		if r.shared {
			shared++
		}
	}
	assert.Equal(t, int32(1), runs.Load(), "one run for all")
	assert.Equal(t, n-1, shared, "all but the first shared it")
	assert.Zero(t, g.InFlight())

	// Once over, the next caller runs it again.
	v, sh, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.False(t, sh)
}

func TestDifferentKeysRunApart(t *testing.T) {
	var g Group[string, int]
	release := make(chan struct{})
	started := make(chan string, 2)
	fn := func(key string, v int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			started <- key
			<-release
			return v, nil
		}
	}
	a := goDo(&g, context.Background(), "a", fn("a", 1))
	b := goDo(&g, context.Background(), "b", fn("b", 2))
	<-started
	<-started // both run at once: neither waits for the other
	close(release)
	assert.Equal(t, result{1, false, nil}, <-a)
	assert.Equal(t, result{2, false, nil}, <-b)
}

// A caller whose ctx ends leaves at once; the run goes on, uncancelled,
// for the caller still waiting, and keeps the first caller's values.
func TestLeavingCallerDoesNotCancelTheOthers(t *testing.T) {
	var g Group[string, int]
	type ctxKey struct{}
	first, leave := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "first"))
	defer leave()
	release := make(chan struct{})
	var runCtx context.Context
	fn := func(ctx context.Context) (int, error) {
		runCtx = ctx
		<-release
		return 1, ctx.Err()
	}
	out1 := goDo(&g, first, "k", fn)
	require.Eventually(t, func() bool { return waiters(&g, "k") == 1 }, waitFor, tick)
	out2 := goDo(&g, context.Background(), "k", fn)
	require.Eventually(t, func() bool { return waiters(&g, "k") == 2 }, waitFor, tick)

	leave()
	r1 := <-out1
	require.ErrorIs(t, r1.err, context.Canceled, "the leaver gets its ctx's error")
	assert.Equal(t, 1, waiters(&g, "k"), "the other still waits")

	close(release)
	r2 := <-out2
	require.NoError(t, r2.err, "the run was not cancelled")
	assert.Equal(t, 1, r2.v)
	assert.True(t, r2.shared)
	assert.Equal(t, "first", runCtx.Value(ctxKey{}), "the run keeps the first caller's values")
}

// When the last caller leaves, the run's ctx is cancelled and the call
// leaves the Group: the next caller starts a new run.
func TestLastCallerLeavingCancelsTheRun(t *testing.T) {
	var g Group[string, int]
	ctx, leave := context.WithCancel(context.Background())
	cancelled := make(chan struct{})
	out := goDo(&g, ctx, "k", func(ctx context.Context) (int, error) {
		<-ctx.Done()
		close(cancelled)
		return 0, ctx.Err()
	})
	require.Eventually(t, func() bool { return waiters(&g, "k") == 1 }, waitFor, tick)
	leave()
	require.ErrorIs(t, (<-out).err, context.Canceled)
	select {
	case <-cancelled:
	case <-time.After(waitFor):
		t.Fatal("the run's ctx was not cancelled")
	}
	v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	assert.False(t, shared, "a new run, not the cancelled one")
}

func TestPanicBecomesAnErrorForEveryCaller(t *testing.T) {
	var g Group[string, int]
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		<-release
		panic("boom")
	}
	out1 := goDo(&g, context.Background(), "k", fn)
	out2 := goDo(&g, context.Background(), "k", fn)
	require.Eventually(t, func() bool { return waiters(&g, "k") == 2 }, waitFor, tick)
	close(release)
	for _, out := range []<-chan result{out1, out2} {
		r := <-out
		var pe *PanicError
		require.ErrorAs(t, r.err, &pe)
		assert.Equal(t, "boom", pe.Value)
		assert.Contains(t, string(pe.Stack), "flight_test.go")
		assert.Zero(t, r.v)
	}
	assert.Zero(t, g.InFlight())

	g.Close()
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { panic("after close") })
	var pe *PanicError
	require.ErrorAs(t, err, &pe, "a panic is an error after Close too")
}

func TestErrorsAreShared(t *testing.T) {
	var g Group[string, int]
	errLoad := errors.New("load failed")
	release := make(chan struct{})
	fn := func(context.Context) (int, error) { <-release; return 0, errLoad }
	out1 := goDo(&g, context.Background(), "k", fn)
	out2 := goDo(&g, context.Background(), "k", fn)
	require.Eventually(t, func() bool { return waiters(&g, "k") == 2 }, waitFor, tick)
	close(release)
	require.ErrorIs(t, (<-out1).err, errLoad)
	require.ErrorIs(t, (<-out2).err, errLoad)
}

// Close cancels the runs in flight, waits for them, and makes later
// calls run on their callers' goroutines under their own ctx.
func TestClose(t *testing.T) {
	var g Group[string, int]
	out := goDo(&g, context.Background(), "k", func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	require.Eventually(t, func() bool { return waiters(&g, "k") == 1 }, waitFor, tick)
	g.Close()
	require.ErrorIs(t, (<-out).err, context.Canceled, "the waiter gets the cancelled run's error")
	assert.Zero(t, g.InFlight())

	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	var wg sync.WaitGroup
	var runs atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, shared, err := g.Do(ctx, "k", func(c context.Context) (int, error) {
				runs.Add(1)
				if c != ctx {
					return 0, errors.New("not the caller's ctx")
				}
				return 5, nil
			})
			assert.NoError(t, err)
			assert.Equal(t, 5, v)
			assert.False(t, shared)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(4), runs.Load(), "unshared after Close")
	g.Close() // twice is fine
}

func TestDoneCtxDoesNotStartARun(t *testing.T) {
	var g Group[string, int]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := g.Do(ctx, "k", func(context.Context) (int, error) {
		t.Error("ran for a caller that was gone")
		return 0, nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, g.InFlight())
}

// Callers coming and going at random, some leaving early: every caller
// that stays gets its key's value, nothing is left in flight, and no run
// outlives Close.
func TestChurn(t *testing.T) {
	var g Group[int, int]
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := i % 5
			ctx := context.Background()
			if i%3 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(i%4)*100*time.Microsecond)
				defer cancel()
			}
			v, _, err := g.Do(ctx, key, func(ctx context.Context) (int, error) {
				select {
				case <-time.After(200 * time.Microsecond):
					return key * 10, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			})
			if err == nil {
				assert.Equal(t, key*10, v)
			} else {
				assert.Equal(t, 0, i%3, "only callers with a deadline fail: %v", err)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			}
		}()
	}
	wg.Wait()
	g.Close()
	assert.Zero(t, g.InFlight())
}
