package pubsub

import (
	"context"
	"errors"
	"sync"
)

// stopRedisSubs stops reading, waits for the reads and handlers under
// way until ctx ends (then cancels them, see awaitDrain), and unbinds every
// subscription concurrently within what is left of ctx. When ctx has run
// out before the unbinding, it makes no call: ephemeral groups are reaped
// once their leases run out, and consumers that hold nothing are removed
// by their groups' reclaim pass.
func stopRedisSubs(ctx context.Context, subs []*redisSub) error {
	for _, s := range subs {
		s.stopFn()
	}
	err := drainAll(ctx, subs)
	if ctx.Err() != nil {
		return err
	}
	errs := make([]error, len(subs)+1)
	errs[0] = err
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = s.unbind(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *redisSub) waitGoroutines() { s.wg.Wait() }
func (s *redisSub) cancelHandlers() { s.cancel() }
