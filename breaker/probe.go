package breaker

import "context"

// probeLocal admits a probe by this breaker's own accounting: memory
// breakers always, shared ones while their store is unreachable.
func (b *Breaker) probeLocal(ctx context.Context, fn func(context.Context) error, now int64) error {
	b.mu.Lock()
	cur := b.word.Load()
	switch stateOf(cur) {
	case Closed:
		b.mu.Unlock()
		return b.runClosed(ctx, fn, cur)
	case Open:
		if now < b.openUntil.Load() {
			b.mu.Unlock()
			return b.reject()
		}
		b.moveLocked(cur, HalfOpen, now, b.openTimeout)
	case HalfOpen:
		if now >= b.hoLease { // no news from the probes for OpenTimeout: presumed lost
			b.moveLocked(cur, HalfOpen, now, b.openTimeout)
		} else if b.hoAdmitted >= b.maxProbes {
			b.mu.Unlock()
			b.rejections.Add(1)
			return ErrTooManyCalls
		}
	}
	b.hoAdmitted++
	b.hoLease = now + b.openTimeout
	cur = b.word.Load()
	b.mu.Unlock()
	b.deliver()
	return b.runProbe(ctx, fn, cur, noEpoch)
}

// probeShared asks the shared store for a probe slot (one round trip).
func (b *Breaker) probeShared(ctx context.Context, fn func(context.Context) error, now int64) error {
	sh, err := b.link.call(ctx, b, now, opAcquire, 0, 0)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return b.probeLocal(ctx, fn, now)
	}
	w := b.adopt(sh, now)
	if !sh.admitted {
		b.rejections.Add(1)
		if sh.state == Open {
			if e := b.openErr.Load(); e != nil {
				return e
			}
			return ErrOpen
		}
		return ErrTooManyCalls
	}
	switch stateOf(w) {
	case Closed:
		return b.runClosed(ctx, fn, w)
	case Open: // newer news arrived meanwhile
		return b.reject()
	}
	return b.runProbe(ctx, fn, w, sh.epoch)
}

// noEpoch marks a probe admitted by local accounting.
const noEpoch = -1

// runProbe runs fn as a half-open probe of the period of w; epoch is the
// shared store's period that admitted it, or noEpoch.
func (b *Breaker) runProbe(ctx context.Context, fn func(context.Context) error, w uint64, epoch int64) error {
	var start int64
	if b.slowDur > 0 {
		start = b.nowNS()
	}
	done := false
	defer func() {
		if !done {
			b.probeDone(ctx, w, epoch, failure, start)
		}
	}()
	err := fn(ctx)
	done = true
	b.probeDone(ctx, w, epoch, b.classify(err), start)
	return err
}

func (b *Breaker) probeDone(ctx context.Context, w uint64, epoch int64, o outcome, start int64) {
	now := b.nowNS()
	slow := b.slowDur > 0 && now-start > b.slowDur
	b.count(o, slow)
	if o == success && slow && b.slowProbeFails {
		o = failure
	}
	if l := b.link; l != nil && epoch != noEpoch && !l.down.Load() {
		if sh, err := l.call(reportContext(ctx), b, now, opFinish, epoch, o); err == nil {
			b.adopt(sh, now)
			return
		}
	}
	b.mu.Lock()
	cur := b.word.Load()
	if sameGen(cur, w) && stateOf(cur) == HalfOpen {
		switch o {
		case success:
			if b.hoSucceeded++; b.hoSucceeded >= b.maxProbes {
				b.moveLocked(cur, Closed, now, 0)
			}
		case failure:
			b.moveLocked(cur, Open, now, b.openTimeout)
		default:
			if b.hoAdmitted > 0 {
				b.hoAdmitted--
			}
		}
	}
	b.mu.Unlock()
	b.deliver()
}
