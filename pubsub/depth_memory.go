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
	seen := make(map[*queue]struct{}, len(b.subs)+len(b.groups))
	out := make([]Depth, 0, len(b.subs)+len(b.groups))
	add := func(q *queue) {
		if _, ok := seen[q]; ok {
			return
		}
		seen[q] = struct{}{}
		out = append(out, Depth{Group: q.group, Pattern: q.pattern, Consumers: int64(len(q.members)),
			Queued: int64(len(q.ch)), InFlight: q.inFlight.Load()})
	}
	for s := range b.subs {
		add(s.q)
	}
	for _, q := range b.groups {
		add(q)
	}
	b.mu.Unlock()
	sortDepths(out)
	return out, nil
}

// Depths implements DepthReporter with this process's queues: a Broadcast
// keeps nothing in Redis, so what waits is in the local queues, as on
// Memory.
func (b *Broadcast) Depths(ctx context.Context) ([]Depth, error) {
	return b.mem.Depths(ctx)
}
