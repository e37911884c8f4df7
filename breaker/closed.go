package breaker

import (
	"context"
	"errors"
)

// runClosed runs fn as a closed-state call admitted in the period of w.
func (b *Breaker) runClosed(ctx context.Context, fn func(context.Context) error, w uint64) error {
	var start int64
	if b.slowDur > 0 {
		start = b.nowNS()
	}
	done := false
	defer func() {
		if !done { // fn panicked (or called runtime.Goexit)
			b.closedDone(ctx, w, failure, start)
		}
	}()
	err := fn(ctx)
	done = true
	b.closedDone(ctx, w, b.classify(err), start)
	return err
}

func (b *Breaker) classify(err error) outcome {
	if err == nil {
		return success
	}
	if b.isFailure(err) {
		return failure
	}
	if errors.Is(err, context.Canceled) {
		return ignored
	}
	return success
}

// count adds a finished call to the counters.
func (b *Breaker) count(o outcome, slow bool) {
	switch o {
	case success:
		b.successes.Add(1)
	case failure:
		b.failures.Add(1)
	default:
		b.ignored.Add(1)
	}
	if slow {
		b.slowCalls.Add(1)
	}
}

// closedDone records the outcome of a closed-state call admitted in the
// period of w, and trips the circuit when a threshold is reached. Outcomes
// of calls admitted in an earlier period only count in the metrics.
func (b *Breaker) closedDone(ctx context.Context, w uint64, o outcome, start int64) {
	var now int64
	slow := false
	if b.timeEnd {
		now = b.nowNS()
		slow = b.slowDur > 0 && now-start > b.slowDur
	}
	b.count(o, slow)
	if o == ignored {
		return
	}
	trip := false
	if b.win != nil {
		calls, fails, slows, ok := b.win.add(uint32(w>>genShift), now, o == failure, slow)
		if !ok {
			return
		}
		trip = b.judge(calls, fails, slows)
	}
	if o == success {
		for {
			cur := b.word.Load()
			if cur&consecMask == 0 || !sameGen(cur, w) || b.word.CompareAndSwap(cur, cur&^consecMask) {
				break
			}
		}
	} else {
		for !trip {
			cur := b.word.Load()
			if !sameGen(cur, w) {
				return
			}
			if consecOf(cur)+1 >= b.threshold {
				trip = true
			} else if b.word.CompareAndSwap(cur, cur+consecOne) {
				break
			}
		}
	}
	if trip {
		b.trip(ctx, w)
	}
}

// judge reports whether the window's rates open the circuit.
func (b *Breaker) judge(calls, fails, slows int) bool {
	if calls == 0 || calls < b.minCalls {
		return false
	}
	return b.frt > 0 && float64(fails)/float64(calls) >= b.frt ||
		b.srt > 0 && float64(slows)/float64(calls) >= b.srt
}

// trip opens the circuit if it is still in the closed period of w, then
// tells the shared store.
func (b *Breaker) trip(ctx context.Context, w uint64) {
	now := b.nowNS()
	b.mu.Lock()
	cur := b.word.Load()
	if !sameGen(cur, w) || stateOf(cur) != Closed {
		b.mu.Unlock()
		return
	}
	b.moveLocked(cur, Open, now, b.openTimeout)
	l := b.link
	report := l != nil && !l.down.Load()
	if report {
		l.pending++
	}
	b.mu.Unlock()
	b.deliver()
	if report {
		sh, err := l.call(reportContext(ctx), b, now, opTrip, 0, 0)
		if err == nil {
			b.adopt(sh, now)
		}
		b.mu.Lock()
		l.pending--
		b.mu.Unlock()
	}
}
