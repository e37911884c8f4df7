package breaker

import "time"

// Metrics is a snapshot of a breaker's counters, cheap enough to take on
// every scrape: atomic loads and one short lock. Counters count since New.
type Metrics struct {
	Name string
	// State is what Breaker.State reports: half-open as soon as the open
	// period is over.
	State State
	// Calls is how many calls ran fn and finished (probes included):
	// Successes + Failures + Ignored.
	Calls     uint64
	Successes uint64
	Failures  uint64 // panics included
	// Ignored counts calls that ended with context.Canceled (unless
	// IsFailure says it is a failure): neither success nor failure.
	Ignored uint64
	// SlowCalls counts calls slower than SlowCallDuration (0 unless set).
	SlowCalls uint64
	// Rejections counts calls refused without running fn: ErrOpen and
	// ErrTooManyCalls.
	Rejections uint64
	// ConsecutiveFailures is the current run of failures in the closed
	// state (0 in the other states).
	ConsecutiveFailures int
	// WindowCalls is how many calls the sliding window holds, and
	// FailureRate and SlowCallRate their shares of failures and slow calls
	// (all 0 without a window). The window holds the closed state's calls
	// and is emptied when the circuit closes, so after a trip these show
	// the rates that tripped it.
	WindowCalls  int
	FailureRate  float64
	SlowCallRate float64
	// Transitions counts state changes, LastTransition is when the last one
	// happened (zero if none), on the breaker's clock.
	Transitions    uint64
	LastTransition time.Time
	// StoreErrors counts failed operations on the shared store; Detached is
	// true while the breaker runs on its local state because the store did
	// not answer.
	StoreErrors uint64
	Detached    bool
}

// Metrics returns a snapshot of the breaker's counters.
func (b *Breaker) Metrics() Metrics {
	w := b.word.Load()
	if stateOf(w) == Open {
		w = b.observe(w) // as State: half-open once OpenTimeout has passed
	}
	m := Metrics{
		Name:                b.name,
		State:               stateOf(w),
		Successes:           b.successes.Load(),
		Failures:            b.failures.Load(),
		Ignored:             b.ignored.Load(),
		SlowCalls:           b.slowCalls.Load(),
		Rejections:          b.rejections.Load(),
		ConsecutiveFailures: consecOf(w),
		StoreErrors:         b.storeErrors.Load(),
	}
	m.Calls = m.Successes + m.Failures + m.Ignored
	if b.win != nil {
		var now int64
		if b.win.width > 0 {
			now = b.nowNS()
		}
		calls, fails, slows := b.win.totals(now)
		m.WindowCalls = calls
		if calls > 0 {
			m.FailureRate = float64(fails) / float64(calls)
			m.SlowCallRate = float64(slows) / float64(calls)
		}
	}
	if b.link != nil {
		m.Detached = b.link.down.Load()
	}
	b.mu.Lock()
	m.Transitions, m.LastTransition = b.transitions, b.lastChange
	b.mu.Unlock()
	return m
}
