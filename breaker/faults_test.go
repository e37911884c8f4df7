package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// faultTimeout is the stores' WithTimeout in the fault suite; every call
// must return within it plus redistest.Slack.
const faultTimeout = 100 * time.Millisecond

// timedReject asserts that b refuses a call with target within bound
// (+ redistest.Slack).
func timedReject(t *testing.T, b *Breaker, target error, bound time.Duration) {
	t.Helper()
	start := time.Now()
	mustReject(t, b, target)
	if elapsed, late := redistest.Late(start, bound); late {
		t.Fatalf("rejecting took %v, bound %v (+%v)", elapsed, bound, redistest.Slack)
	}
}

// TestFaults runs a two-member fleet on a private redis-server through
// each fault, on both client kinds. Throughout, every Execute returns
// within the store's timeout plus 50ms. During the fault the members keep
// working: they detach when the store does not answer and trip and probe
// alone; after it they re-join by themselves, and the fleet shares trips
// and closes again (written anew after a flush or an empty restart).
func TestFaults(t *testing.T) {
	const limit = faultTimeout
	for _, fault := range redistest.ServerFaults(500 * time.Millisecond) {
		t.Run(fault.Name, func(t *testing.T) {
			s := fault.Start(t)
			for kind, opts := range redistest.ClientKinds() {
				t.Run(kind, func(t *testing.T) {
					clk := newFakeClock()
					prefix := "faults:" + kind + ":"
					cfg := Config{FailureThreshold: 2, OpenTimeout: 10 * time.Second}
					newM := func() member {
						c, f := s.Client(opts...)
						return newMember(t, c, f, clk, 0, cfg, WithPrefix(prefix), WithTimeout(faultTimeout))
					}
					a, b := newM(), newM()
					run := func(m member, fn func(context.Context) error) { t.Helper(); timedRun(t, m.Breaker, fn, limit) }
					shareATripAndAClose := func() {
						t.Helper()
						run(a, fail)
						run(a, fail)
						require.Equal(t, Open, a.State())
						eventuallyState(t, b.Breaker, Open)
						timedReject(t, b.Breaker, ErrOpen, limit)
						clk.Advance(cfg.OpenTimeout)
						run(b, ok) // the probe
						require.Equal(t, Closed, b.State())
						eventuallyState(t, a.Breaker, Closed)
					}
					shareATripAndAClose()
					storeErrors := b.Metrics().StoreErrors

					fault.Inject(s)
					ended := false
					endFault := func() {
						if !ended && fault.Heal != nil {
							fault.Heal(s)
						}
						ended = true
					}
					defer endFault()         // also when an assertion fails: the next subtest shares s
					clk.Advance(time.Second) // both re-reads are due
					for _, m := range []member{a, b} {
						run(m, ok)
						if fault.Effect.Unreachable() {
							// The listener may have just asked for a re-read
							// (losing its subscription): the call that lost
							// that race skipped its own; the next one tries.
							for i := 0; i < 3 && !m.Metrics().Detached; i++ {
								run(m, ok)
							}
						}
						require.Equal(t, fault.Effect.Unreachable(), m.Metrics().Detached, "detached")
					}
					run(b, fail)
					run(b, fail)
					require.Equal(t, Open, b.State(), "b trips")
					timedReject(t, b.Breaker, ErrOpen, limit)
					switch fault.Effect {
					case redistest.Hangs, redistest.Refuses, redistest.ReadOnly:
						require.True(t, b.Metrics().Detached, "the trip could not be told")
						require.Equal(t, Closed, a.State(), "so a did not hear of it")
						run(a, ok)
					case redistest.Answers:
						eventuallyState(t, a.Breaker, Open)
						require.Equal(t, storeErrors, b.Metrics().StoreErrors, "no call failed")
					}
					clk.Advance(cfg.OpenTimeout)
					run(b, ok) // a probe: alone, or through the store
					require.Equal(t, Closed, b.State())
					if fault.Effect == redistest.Answers {
						eventuallyState(t, a.Breaker, Closed)
					}
					endFault()

					// Both re-join by themselves, each call still bounded.
					deadline := time.Now().Add(5 * time.Second)
					for a.Metrics().Detached || b.Metrics().Detached {
						require.True(t, time.Now().Before(deadline), "not re-joined within 5s")
						time.Sleep(10 * time.Millisecond)
						clk.Advance(time.Second) // the retry interval
						run(a, ok)
						run(b, ok)
					}
					require.Equal(t, Closed, a.State())
					require.Equal(t, Closed, b.State())
					shareATripAndAClose()
					c, _ := s.Client()
					n, err := c.Exists(context.Background(), prefix+"{dep}").Result()
					require.NoError(t, err)
					require.Equal(t, int64(1), n, "the circuit is stored again")
				})
			}
		})
	}
}
