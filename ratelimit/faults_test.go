package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// The fault suite: each fault is done to a private redis-server while
// every algorithm, on both client kinds, with WithTimeout and with
// WithoutTimeout plus a caller's deadline, makes a call. Each call must
// return within its bound (+50ms), with the error (or, wrapped in
// FailClosed, the wrapper's answer); after the fault each limiter must
// answer by itself, with the counts the fault left: kept, or (FLUSHALL, a
// restart without persistence) forgotten, every key starting full again.

const (
	faultBound = 100 * time.Millisecond // WithTimeout's default, and the callers' deadline
	faultSlack = 50 * time.Millisecond
	// How long a paused or sleeping server holds calls: well past a call's
	// bound and slack, so every call made during the fault meets it.
	faultHold = 400 * time.Millisecond
)

// faultLimit refills nothing while a test runs, and its fixed windows
// (aligned to multiples of the Period) essentially never turn over during
// one, so counts before and after a fault compare exactly on a real clock.
var faultLimit = Limit{Rate: 10, Period: 10_000 * time.Hour}

// faultSubject is one limiter under test and how its callers call it.
type faultSubject struct {
	name     string
	lim      *Redis
	failSafe Limiter // FailClosed(lim), asked on every call
	callerDL bool    // WithoutTimeout: the caller's ctx carries the deadline
	// checker reads lim's counts after the fault (same client, keys and
	// limit) with a bound a busy disk cannot break: with appendfsync
	// always, every write waits for an fsync.
	checker *Redis
}

// callCtx is the ctx a caller of s passes during the fault.
func (s *faultSubject) callCtx() (context.Context, context.CancelFunc) {
	if s.callerDL {
		return context.WithTimeout(context.Background(), faultBound)
	}
	return context.WithCancel(context.Background())
}

// faultSubjects builds every algorithm × client kind × bound on server s,
// each with a client and a key prefix of its own.
func faultSubjects(t *testing.T, s *redistest.Server) []*faultSubject {
	var subjects []*faultSubject
	for _, alg := range allAlgorithms {
		for kind, clientOpts := range redistest.ClientKinds() {
			for _, callerDL := range []bool{false, true} {
				opt, mode := WithTimeout(faultBound), "WithTimeout"
				if callerDL {
					opt, mode = WithoutTimeout(), "caller deadline"
				}
				c, _ := s.Client(clientOpts...)
				prefix := fmt.Sprintf("s%d:", len(subjects))
				lim, err := NewRedis(c, alg, faultLimit, opt, WithPrefix(prefix))
				require.NoError(t, err)
				checker, err := NewRedis(c, alg, faultLimit, WithTimeout(5*time.Second), WithPrefix(prefix))
				require.NoError(t, err)
				subjects = append(subjects, &faultSubject{
					name:     alg.String() + "/" + kind + "/" + mode,
					lim:      lim,
					failSafe: FailClosed(lim, WithCooldown(0)),
					callerDL: callerDL,
					checker:  checker,
				})
			}
		}
	}
	return subjects
}

// faultCall is what one call during the fault got.
type faultCall struct {
	d       Decision
	err     error
	elapsed time.Duration
}

func callDuringFault(s *faultSubject, l Limiter) faultCall {
	ctx, cancel := s.callCtx()
	defer cancel()
	start := time.Now()
	d, err := l.Allow(ctx, "during")
	return faultCall{d: d, err: err, elapsed: time.Since(start)}
}

// A round whose calls were late while the process itself stood still (see
// redistest.StallWatch) is tried again on a fresh server, up to
// redistest.TimingAttempts rounds in all; late calls in a round without
// such a stall fail at once.
func TestFaultsRedisLimiter(t *testing.T) {
	for _, f := range redistest.ServerFaults(faultHold) {
		t.Run(f.Name, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				problems, stall := faultRound(t, f)
				if len(problems) == 0 {
					return
				}
				if stall < redistest.StallExcuse || attempt == redistest.TimingAttempts {
					for _, p := range problems {
						t.Error(p)
					}
					t.Logf("the process stood still for %v during the calls", stall)
					return
				}
				t.Logf("round %d: %d problems while the process itself stood still for %v (a CPU-starved machine): trying again; first: %s",
					attempt, len(problems), stall, problems[0])
			}
		})
	}
}

// faultRound does f to a fresh server once. It returns what went wrong
// with the calls made during the fault, and how long the
// process stood still meanwhile; it reports the checks after the fault itself.
func faultRound(t *testing.T, f redistest.ServerFault) (problems []string, stall time.Duration) {
	srv := f.Start(t)
	subjects := faultSubjects(t, srv)
	ctx := context.Background()
	for _, s := range subjects {
		// Through the checker: it shares lim's client, keys and the
		// server's script cache, so this warms lim up too, and its bound
		// cannot fail the set-up on a loaded machine, which lim's
		// faultBound could (a fresh connection plus a script load).
		d, err := s.checker.AllowN(ctx, "before", 2)
		require.NoError(t, err, s.name)
		require.Equal(t, 8, d.Remaining, s.name)
	}

	f.Inject(srv)
	bare := make([]faultCall, len(subjects))
	wrapped := make([]faultCall, len(subjects))
	watchFrom := time.Now()
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Add(2)
		go func() { defer wg.Done(); bare[i] = callDuringFault(s, s.lim) }()
		go func() { defer wg.Done(); wrapped[i] = callDuringFault(s, s.failSafe) }()
	}
	wg.Wait()
	stall = redistest.Stalled(watchFrom, time.Now())
	if f.Heal != nil {
		f.Heal(srv)
	}

	for i, s := range subjects {
		problems = append(problems, checkBareCall(f, s, bare[i])...)
		problems = append(problems, checkWrappedCall(f, s, wrapped[i])...)
	}
	for _, s := range subjects {
		checkRecovered(t, f, s)
	}
	return problems, stall
}

func checkBareCall(f redistest.ServerFault, s *faultSubject, c faultCall) (problems []string) {
	fail := func(format string, args ...any) {
		problems = append(problems, s.name+": "+fmt.Sprintf(format, args...))
	}
	if c.elapsed > faultBound+faultSlack {
		fail("AllowN took %v, bound %v (+%v)", c.elapsed, faultBound, faultSlack)
	}
	switch f.Effect {
	case redistest.Answers:
		if c.err != nil || !c.d.Allowed {
			fail("AllowN = %+v, %v; want an allowed decision and no error", c.d, c.err)
		}
		return problems
	case redistest.Hangs:
		if !errors.Is(c.err, context.DeadlineExceeded) {
			fail("err = %v, want DeadlineExceeded", c.err)
		}
	case redistest.ReadOnly:
		if c.err == nil || !strings.Contains(c.err.Error(), "OOM") {
			fail("err = %v, want Redis's OOM error", c.err)
		}
	case redistest.Refuses:
		if c.err == nil {
			fail("no error from a server that is gone")
		}
	}
	if c.d.Allowed {
		fail("a call the fault should have failed was allowed")
	}
	return problems
}

// checkWrappedCall: FailClosed answers within the bound in the limiter's
// place, unless the caller's own deadline passed: that caller gets its
// DeadlineExceeded, as the wrappers promise.
func checkWrappedCall(f redistest.ServerFault, s *faultSubject, c faultCall) (problems []string) {
	fail := func(format string, args ...any) {
		problems = append(problems, s.name+": "+fmt.Sprintf(format, args...))
	}
	if c.elapsed > faultBound+faultSlack {
		fail("FailClosed took %v, bound %v (+%v)", c.elapsed, faultBound, faultSlack)
	}
	switch {
	case f.Effect == redistest.Answers:
		if c.err != nil || !c.d.Allowed {
			fail("FailClosed = %+v, %v; want the limiter's allowed decision", c.d, c.err)
		}
	case c.err != nil:
		if !s.callerDL || !errors.Is(c.err, context.DeadlineExceeded) {
			fail("FailClosed err = %v; only a caller whose deadline passed gets an error", c.err)
		}
	case c.d.Allowed || c.d.RetryAfter != FailClosedRetryAfter:
		fail("FailClosed = %+v, want its denial", c.d)
	}
	return problems
}

// checkRecovered waits for s to answer again by itself, then checks that
// "before" kept its count (or, after a fault that forgets, starts full)
// and that a new key starts full.
func checkRecovered(t *testing.T, f redistest.ServerFault, s *faultSubject) {
	t.Helper()
	ctx := context.Background()
	// Probe with a key of its own: a probe that times out may still run
	// later, and must not move the counts checked below.
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err = s.lim.Allow(ctx, "probe"); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("%s: not answering 5s after the fault: %v", s.name, err)
		return
	}
	want := 7 // 2 before the fault, 1 now
	if f.Lossy {
		want = 9
	}
	d, err := s.checker.Allow(ctx, "before")
	if err != nil || !d.Allowed || d.Remaining != want {
		t.Errorf("%s: after the fault: %+v, %v; want allowed with %d remaining", s.name, d, err, want)
	}
	d, err = s.checker.Allow(ctx, "fresh")
	if err != nil || !d.Allowed || d.Remaining != 9 {
		t.Errorf("%s: a new key after the fault: %+v, %v; want allowed with 9 remaining", s.name, d, err)
	}
}
