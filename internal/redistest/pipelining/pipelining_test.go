package pipelining

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// recorder stands in for a test's testing.TB and keeps what it was told.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// findings runs the check with setup and returns what it reported.
func findings(t *testing.T, setup Setup) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkOptOut(r, t, 16, 10, setup)
	}()
	<-done
	return r.errors
}

// bounded is a Setup whose calls are GETs through a redisx.Bound: it
// honours optOut unless told to ignore it one way or the other.
func bounded(always, never bool) Setup {
	return func(t *testing.T, c *redis.Client, prefix string, optOut bool) Work {
		b := redisx.NewBound(c, Timeout)
		if (optOut || never) && !always {
			b = b.WithoutPipelining()
		}
		var calls atomic.Int64
		return Work{
			Call: func(g, i int) error {
				calls.Add(1)
				err := b.Command(context.Background(), c, "GET", fmt.Sprintf("%s%d", prefix, g)).Err()
				if errors.Is(err, redis.Nil) {
					return nil
				}
				return err
			},
			Verify: func() error {
				if n := calls.Load(); n != 160 {
					return fmt.Errorf("%d calls made, want 160", n)
				}
				return nil
			},
		}
	}
}

func TestCheckOptOutPassesAnHonestPackage(t *testing.T) {
	if got := findings(t, bounded(false, false)); len(got) != 0 {
		t.Fatalf("an option that works was reported: %q", got)
	}
}

func TestCheckOptOutFailsAnOptionThatDoesNothing(t *testing.T) {
	got := findings(t, bounded(true, false))
	if len(got) != 1 || got[0] == "" {
		t.Fatalf("findings %q, want one: pipelines sent despite the option", got)
	}
}

func TestCheckOptOutFailsAPackageThatNeverPipelines(t *testing.T) {
	got := findings(t, bounded(false, true))
	if len(got) != 1 {
		t.Fatalf("findings %q, want one: no pipeline by default", got)
	}
}

func TestCheckOptOutReportsFailedCallsAndVerify(t *testing.T) {
	got := findings(t, func(t *testing.T, c *redis.Client, prefix string, optOut bool) Work {
		w := bounded(false, false)(t, c, prefix, optOut)
		call := w.Call
		return Work{
			Call: func(g, i int) error {
				if g == 3 && i == 2 {
					return errors.New("boom")
				}
				return call(g, i)
			},
			Verify: func() error { return errors.New("wrong outcome") },
		}
	})
	// Per build: goroutine 3's failed call and the failed Verify.
	if len(got) != 4 {
		t.Fatalf("findings %q, want 4", got)
	}
}
