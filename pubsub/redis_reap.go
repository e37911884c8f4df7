package pubsub

import (
	"context"
	"errors"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// holdReaping stops this bus from reaping for d. A bus whose own calls
// failed has just lived through an outage (Redis down, frozen, refusing
// writes) that other processes lived through too: their leases may have
// run out meanwhile, and they need a lease's time to renew them once
// Redis is back, before anyone may tell a dead process from a live one.
func (b *Redis) holdReaping(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := b.reapHold.Load()
		if cur >= until || b.reapHold.CompareAndSwap(cur, until) {
			return
		}
	}
}

func (b *Redis) mayReap() bool { return time.Now().UnixNano() >= b.reapHold.Load() }

// runs reports whether group is the ephemeral group of one of this bus's
// running subscriptions.
func (b *Redis) runs(group string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.group == group {
			return true
		}
	}
	return false
}

// reapBatch bounds how many expired ephemeral groups one reap removes.
const reapBatch = 100

// reap unbinds the ephemeral groups of processes that died (their lease
// ran out by the server's clock) and deletes their streams: one script
// lists the candidates, then one per group checks its lease and removes
// it, so that every script declares the keys it touches. Each call is
// bounded by the bus's timeout.
func (b *Redis) reap(ctx context.Context) error {
	gone, err := b.bound().Eval(ctx, b.client, expiredScript, []string{b.ephKey}, []any{reapBatch}, nil).StringSlice()
	if err != nil {
		return err
	}
	for _, g := range gone {
		if b.runs(g) {
			continue // late renewing its lease, but this bus knows it is alive
		}
		if validateGroup(g) != nil {
			// Not ours to build a key from: drop the schedule entry only.
			err = errors.Join(err, redisx.Run(ctx, b.bound(), func(ctx context.Context) error {
				return b.client.ZRem(ctx, b.ephKey, g).Err()
			}))
			continue
		}
		keys := []string{b.regKey, b.verKey, b.ephKey, b.streamKey(g), b.leaseKey(g)}
		err = errors.Join(err, b.bound().Eval(ctx, b.client, reapScript, keys, []any{g, randHex(8)}, nil).Err())
	}
	return err
}
