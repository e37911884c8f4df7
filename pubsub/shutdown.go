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

// draining is a subscription being shut down: its goroutines can be
// waited for and its handlers' contexts cancelled.
type draining interface {
	waitGoroutines()
	cancelHandlers()
}

// drainAll waits for the goroutines of subs, whose stop channels are
// closed, until ctx ends (see awaitDrain); either way it leaves every
// handler's context cancelled, so nothing outlives the shutdown.
func drainAll[S draining](ctx context.Context, subs []S) error {
	done := make(chan struct{})
	go func() {
		for _, s := range subs {
			s.waitGoroutines()
		}
		close(done)
	}()
	cancelAll := func() {
		for _, s := range subs {
			s.cancelHandlers()
		}
	}
	err := awaitDrain(ctx, done, cancelAll)
	cancelAll()
	return err
}

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
