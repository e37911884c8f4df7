package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// publishBackoff spaces a failing publish's retries: a Redis blip is
// ridden out, a long outage fills the buffer and Record starts failing
// fast (ErrOverloaded) rather than holding redirects.
var publishBackoff = backoff.Policy{Min: 20 * time.Millisecond, Max: time.Second, Jitter: backoff.Equal}

// pollEvery is how often Flush and Close look at the counters.
const pollEvery = 2 * time.Millisecond

// Record records a click without waiting: the click goes into a bounded
// buffer that publishers drain, so a redirect pays a channel send. When the
// buffer is full (the bus is down, or clicks come faster than the pipeline
// stores them) the click is dropped at once with ErrOverloaded: under
// overload analytics lose clicks rather than slow redirects. ctx is not
// used for waiting (a redirect whose client went away still has its click
// recorded); it is there for the contract's shape. A click buffered but
// not yet published when the process crashes is lost: at most the buffer;
// Close publishes it on a graceful stop.
func (a *Analytics) Record(_ context.Context, c Click) error {
	if err := validateCode(c.Code); err != nil {
		return err
	}
	r := newRecord(c, a.now)
	a.recordMu.RLock()
	defer a.recordMu.RUnlock()
	if a.recClosed {
		return ErrClosed
	}
	select {
	case a.buf <- r:
		a.counters.recorded.Add(1)
		return nil
	default:
	}
	a.counters.overloaded.Add(1)
	err := fmt.Errorf("%w: click on %q dropped", ErrOverloaded, c.Code)
	a.report(Event{Kind: Overloaded, Code: c.Code, Err: err})
	return err
}

// publishLoop publishes buffered clicks until the buffer is closed and
// empty, or ctx (Close's deadline passed) is cancelled.
func (a *Analytics) publishLoop(ctx context.Context) {
	defer a.pubDone.Done()
	for r := range a.buf {
		if ctx.Err() != nil {
			a.lose(r, ctx.Err())
			continue
		}
		a.publish(ctx, r)
	}
}

// publish tries a click for DefaultPublishPatience.
func (a *Analytics) publish(ctx context.Context, r clickRecord) {
	payload, err := json.Marshal(r)
	if err != nil { // a struct of strings and a time: cannot fail
		a.lose(r, err)
		return
	}
	giveUp := time.Now().Add(DefaultPublishPatience)
	for attempt := 1; ; attempt++ {
		err = a.bus.Publish(ctx, TopicPrefix+r.Code, payload)
		if err == nil {
			a.counters.published.Add(1)
			return
		}
		if time.Now().After(giveUp) || backoff.Sleep(ctx, publishBackoff.Wait(attempt)) != nil {
			a.lose(r, err)
			return
		}
	}
}

func (a *Analytics) lose(r clickRecord, err error) {
	a.counters.unpublished.Add(1)
	a.report(Event{Kind: ClickLost, Code: r.Code, Err: err})
}

// awaitPublishers waits for the publishers to drain the closed buffer; at
// ctx's deadline it cancels them, and the rest of the buffer is lost.
func (a *Analytics) awaitPublishers(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.pubDone.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		a.stop()
		<-done // cancelled publishers drop the rest at once
		return fmt.Errorf("analytics: publishing buffered clicks: %w", ctx.Err())
	}
}

// awaitPublished waits until every click recorded so far was published (or
// lost).
func (a *Analytics) awaitPublished(ctx context.Context) error {
	target := a.counters.recorded.Load()
	return poll(ctx, "publishing recorded clicks", func() bool {
		return a.counters.published.Load()+a.counters.unpublished.Load() >= target
	})
}

// awaitConsumed waits until this instance's consumers have handled as many
// clicks as it published.
func (a *Analytics) awaitConsumed(ctx context.Context) error {
	target := a.counters.published.Load()
	return poll(ctx, "storing published clicks", func() bool {
		return a.counters.handled.Load() >= target
	})
}

func poll(ctx context.Context, what string, done func() bool) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for !done() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("analytics: %s: %w", what, ctx.Err())
		}
	}
	return nil
}
