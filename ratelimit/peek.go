package ratelimit

import (
	"context"
	"fmt"
)

// Peeker reads a key's quota without spending it. Memory, Redis and the
// wrappers implement it.
type Peeker interface {
	// Peek returns what Allow(ctx, key) would decide now, Allowed and
	// RetryAfter included, without consuming anything, except that
	// Remaining and ResetAfter describe the key as it is, before any
	// request: Remaining is how many units are left now. Delay is 0. A
	// key the limiter does not track reads as a fresh one, and peeking
	// does not make the limiter track it.
	Peek(ctx context.Context, key string) (Decision, error)
}

var (
	_ Peeker = (*Memory)(nil)
	_ Peeker = (*Redis)(nil)
	_ Peeker = (*wrapper)(nil)
)

// Peek reads key's quota without spending it (see Peeker). It never
// blocks; peeks are not counted in Stats.
func (m *Memory) Peek(_ context.Context, key string) (Decision, error) {
	now := m.nowUS()
	var o outcome
	switch {
	case m.buckets != nil:
		o = peekIn(m.buckets, &m.spec, key, now, (*bucketState).peek)
	case m.windows != nil:
		o = peekIn(m.windows, &m.spec, key, now, (*windowState).peek)
	case m.counters != nil:
		o = peekIn(m.counters, &m.spec, key, now, (*counterState).peek)
	default:
		o = peekIn(m.logs, &m.spec, key, now, (*logState).peek)
	}
	return m.spec.decision(o), nil
}

// peekIn runs peek on key's state under its shard lock, or on a fresh
// state if key is not tracked.
func peekIn[S any, P keyState[S]](t *table[S, P], s *spec, key string, now int64, peek func(*S, *spec, int64) outcome) outcome {
	sh, st := t.lookup(key)
	defer sh.mu.Unlock()
	if st == nil {
		st = new(S)
	}
	return peek(st, s, now)
}

// Peek reads key's quota without spending it (see Peeker), with one script
// call; a Redis failure is an error, as for AllowN. Peeks are not counted
// in Stats, except as Errors.
func (r *Redis) Peek(ctx context.Context, key string) (Decision, error) {
	d, err := r.run(ctx, key, 0) // n = 0 tells the scripts to peek
	if err != nil {
		r.stats.errors.Add(1)
	}
	return d, err
}

// Peek reads key's quota from the wrapped limiter (an error if it is not a
// Peeker). While the limiter fails, Fallback peeks at the secondary, and
// FailOpen and FailClosed answer what their AllowN would. Peeks start no
// cooldown, fire no hooks and are not counted in Stats.
func (w *wrapper) Peek(ctx context.Context, key string) (Decision, error) {
	if w.cfgErr != nil {
		return Decision{}, w.cfgErr
	}
	p, ok := w.inner.(Peeker)
	if !ok {
		return Decision{}, fmt.Errorf("%w: Peek: the wrapped %T cannot peek", ErrInvalidRequest, w.inner)
	}
	d, err := p.Peek(ctx, key)
	if err == nil || mustPassThrough(err) || ctx.Err() != nil {
		return d, err
	}
	if w.peekAlt != nil {
		return w.peekAlt(ctx, key, d, err)
	}
	return w.degrade(ctx, key, 1, d, err)
}
