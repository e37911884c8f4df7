package pubsub

import "context"

// Depths implements DepthReporter: one Depth per group (declared ones
// included) and per plain subscription, read from the queues without
// waiting for publishers or handlers, so the numbers of a busy bus are a
// moment's, not a consistent snapshot. It fails only with ctx's error or
// the bus's configuration error; a closed bus has no queues left and
// returns none.
func (b *Memory) Depths(ctx context.Context) ([]Depth, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	out := make([]Depth, 0, len(b.subs)+len(b.groups))
	// Every group's queue is in b.groups while it lives; a plain
	// subscription's queue is its own.
	for _, q := range b.groups {
		out = append(out, q.depth())
	}
	for s := range b.subs {
		if s.q.group == "" {
			out = append(out, s.q.depth())
		}
	}
	b.mu.Unlock()
	sortDepths(out)
	return out, nil
}

// depth reads q's numbers. Memory.mu is held.
func (q *queue) depth() Depth {
	return Depth{Group: q.group, Pattern: q.pattern, Consumers: int64(len(q.members)),
		Queued: int64(len(q.ch)), InFlight: q.inFlight.Load()}
}

// Depths implements DepthReporter with this process's queues: a Broadcast
// keeps nothing in Redis, so what waits is in the local queues, as on
// Memory.
func (b *Broadcast) Depths(ctx context.Context) ([]Depth, error) {
	return b.mem.Depths(ctx)
}
