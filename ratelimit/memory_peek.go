package ratelimit

import "context"

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
