package pubsub

import (
	"context"
	"fmt"
	"time"
)

// shutdownGrace is how long Shutdown, Close and Unsubscribe wait, once
// their deadline has passed and the handlers' contexts are cancelled, for
// handlers that honour their context to return: a bound on how late they
// return, not a promise that a handler ignoring its context has stopped.
const shutdownGrace = 10 * time.Millisecond

// awaitDrain waits for done until ctx ends. Then it calls cancel (which
// cancels the handlers' contexts), waits at most shutdownGrace more for
// done, and returns an error wrapping ErrDrainTimeout and ctx's error.
func awaitDrain(ctx context.Context, done <-chan struct{}, cancel func()) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	cancel()
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	return fmt.Errorf("%w: %w", ErrDrainTimeout, ctx.Err())
}
