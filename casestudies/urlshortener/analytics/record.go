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
// buffer that publishers drain, so a redirect pays a channel send (the
// referrer is reduced to its host, and the click batched, by a publisher,
// off the redirect's path). When the buffer is full (the bus is down, or
// clicks come faster than the pipeline stores them) the click is dropped
// at once with ErrOverloaded: under overload analytics lose clicks rather
// than slow redirects. ctx is not used for waiting (a redirect whose client
// went away still has its click recorded); it is there for the contract's
// shape. A click buffered but not yet published when the process crashes
// is lost: at most the buffer and the publishers' batches; Close publishes
// them on a graceful stop.
func (a *Analytics) Record(_ context.Context, c Click) error {
	if err := validateCode(c.Code); err != nil {
		return err
	}
	if c.At.IsZero() {
		c.At = a.now()
	}
	a.recordMu.RLock()
	defer a.recordMu.RUnlock()
	if a.recClosed {
		return ErrClosed
	}
	select {
	case a.buf <- c:
		a.counters.recorded.Add(1)
		return nil
	default:
	}
	a.counters.overloaded.Add(1)
	err := fmt.Errorf("%w: click on %q dropped", ErrOverloaded, c.Code)
	a.report(Event{Kind: Overloaded, Code: c.Code, Clicks: 1, Err: err})
	return err
}

// publishLoop collects buffered clicks into batches (one per link and day:
// see clickBatch) and publishes them, until the buffer is closed and empty,
// or ctx (Close's deadline passed) is cancelled. A batch goes out when it
// holds DefaultBatchSize clicks, or DefaultBatchWindow after its first
// click: a burst costs the bus and the store one message and one event
// per link, not one per click.
func (a *Analytics) publishLoop(ctx context.Context) {
	defer a.pubDone.Done()
	col := newCollector()
	window := time.NewTimer(DefaultBatchWindow)
	window.Stop()
	defer window.Stop()
	for {
		var c Click
		var open bool
		if col.held == 0 {
			c, open = <-a.buf
		} else {
			select {
			case c, open = <-a.buf:
			case <-window.C:
				a.publishBatches(ctx, col)
				continue
			}
		}
		if !open {
			a.publishBatches(ctx, col)
			return
		}
		if ctx.Err() != nil {
			a.lose(c.Code, 1, ctx.Err())
			continue
		}
		col.add(reduce(c))
		switch {
		case col.held >= DefaultBatchSize:
			window.Stop()
			a.publishBatches(ctx, col)
		case col.held == 1:
			window.Reset(DefaultBatchWindow)
		}
	}
}

// publishBatches publishes what col holds, each batch tried until
// DefaultPublishPatience from now.
func (a *Analytics) publishBatches(ctx context.Context, col *collector) {
	giveUp := time.Now().Add(DefaultPublishPatience)
	for _, b := range col.take() {
		a.publish(ctx, b, giveUp)
	}
}

// publish tries a batch until giveUp.
func (a *Analytics) publish(ctx context.Context, b clickBatch, giveUp time.Time) {
	n := b.clicks()
	payload, err := json.Marshal(b)
	if err != nil { // strings, times and numbers: cannot fail
		a.lose(b.Code, n, err)
		return
	}
	topic := TopicPrefix + b.Code
	for attempt := 1; ; attempt++ {
		err = a.bus.Publish(ctx, topic, payload)
		if err == nil {
			a.counters.published.Add(n)
			return
		}
		if time.Now().After(giveUp) || backoff.Sleep(ctx, publishBackoff.Wait(attempt)) != nil {
			a.lose(b.Code, n, err)
			return
		}
	}
}

// lose gives up on n clicks of code that were not published.
func (a *Analytics) lose(code string, n int64, err error) {
	a.counters.unpublished.Add(n)
	a.report(Event{Kind: ClickLost, Code: code, Clicks: n, Err: err})
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
