// Package pipelining checks, for any package with a Redis backend, that
// concurrent calls ride the internal/redisx pipelines by default and that
// the package's WithoutPipelining option sends each call alone.
//
// It lives apart from redistest because it reads redisx's counters, and
// redisx's own tests import redistest: one package would be an import
// cycle.
package pipelining

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Timeout is the bound a Setup should give its package's Redis calls:
// miniredis under -race on a loaded machine is slow, and a call must not
// fail on a bound that the check does not test.
const Timeout = 30 * time.Second

// Work is one build of the package under test.
type Work struct {
	// Call makes call number i of goroutine g.
	Call func(g, i int) error
	// Verify, if set, checks the outcome once every call returned: the
	// results must not depend on whether calls were pipelined.
	Verify func() error
}

// Setup builds the package's object on c, with its keys under prefix,
// pipelined unless optOut (then with the package's WithoutPipelining).
type Setup func(t *testing.T, c *redis.Client, prefix string, optOut bool) Work

// CheckOptOut builds the package twice, pipelined and opted out, each on
// a fresh miniredis with a fresh client, runs goroutines × calls calls
// concurrently on each, and fails t unless the pipelined build sent at
// least one pipeline and the opted-out one sent none, every call
// succeeded and Verify passed.
func CheckOptOut(t *testing.T, goroutines, calls int, setup Setup) {
	t.Helper()
	checkOptOut(t, t, goroutines, calls, setup)
}

// checkOptOut is CheckOptOut reporting its findings to report, so that
// its own test can see them fail.
func checkOptOut(report testing.TB, t *testing.T, goroutines, calls int, setup Setup) {
	report.Helper()
	for _, optOut := range []bool{false, true} {
		tg := redistest.New(t, redistest.Mini)
		// Not tg.NewClient's 1s read timeout: a pipeline of slow scripts
		// could pass it, and go-redis would then send the pipeline again.
		c := redis.NewClient(&redis.Options{Addr: tg.Mini.Addr(), ReadTimeout: Timeout, MaxRetries: -1})
		w := setup(t, c, tg.Key("pipelining:"), optOut)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range calls {
					if err := w.Call(g, i); err != nil {
						report.Errorf("WithoutPipelining=%v: goroutine %d, call %d: %v", optOut, g, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if w.Verify != nil {
			if err := w.Verify(); err != nil {
				report.Errorf("WithoutPipelining=%v: %v", optOut, err)
			}
		}
		pipelines, _ := redisx.PipelineStats(c)
		_ = c.Close()
		if optOut && pipelines != 0 {
			report.Fatalf("WithoutPipelining: %d pipelines sent", pipelines)
		}
		if !optOut && pipelines == 0 {
			report.Fatalf("default: no pipeline for %d concurrent calls", goroutines*calls)
		}
	}
}
