package pubsub

import (
	"context"
	"errors"

	"github.com/sysdesign/patterns/internal/backoff"
)

// settler is how a backend finishes a message that the shared delivery
// loop (deliver) delivered: T is its handle on the message (the shared
// *Message in memory, the stream entry on Redis).
type settler[T any] interface {
	// acked: the handler succeeded.
	acked(item T)
	// handBack releases a message the stopping subscription did not
	// finish, for another member (or consumer) to take at once. counted
	// says whether the delivery under way counts towards MaxAttempts: a
	// handler interrupted by the end of the drain counts, one that handed
	// the message back (ErrHandBack) or was never called does not.
	handBack(item T, counted bool)
	// giveUp dead-letters a message after attempts failed deliveries.
	giveUp(item T, m *Message, attempts int, cause error)
	// again is called after the backoff that follows failed delivery
	// attempt; it returns the number of the next delivery, or false when
	// the message is no longer this subscription's (on Redis: another
	// consumer reclaimed it, or it was acknowledged meanwhile).
	again(item T, attempt int) (next int, ok bool)
}

// loop is what the delivery loop of one subscription needs.
type loop struct {
	h     Handler
	d     delivery
	group string // the group, or a plain subscription's pattern (events, dead letters)
	stats *counters
	hooks *hooks
	// ctx is the handlers'; cancelled when draining ran out of time.
	ctx context.Context
	// stopping is closed when the subscription begins to stop.
	stopping <-chan struct{}
}

func (l *loop) isStopping() bool {
	select {
	case <-l.stopping:
		return true
	default:
		return false
	}
}

// errConsumersStopped is the dead-letter reason of a Redis message whose
// deliveries ran out while its consumers kept stopping mid-handler.
var errConsumersStopped = errors.New("pubsub: consumers stopped while handling it")

// deliver delivers m (first delivery number first) until the handler
// succeeds, the attempts run out (dead letter), or the subscription stops
// (hand-back). m is the handler's copy: deliver sets its Attempt.
func deliver[T any, S settler[T]](l *loop, s S, item T, m *Message, first int) {
	for attempt := first; ; {
		if attempt > l.d.maxAttempts {
			// Delivered too often already: its consumers died mid-handler.
			s.giveUp(item, m, attempt-1, errConsumersStopped)
			return
		}
		if l.ctx.Err() != nil {
			// Stopped and out of drain time: never call a handler with a
			// context that is already cancelled.
			s.handBack(item, false)
			return
		}
		m.Attempt = attempt
		err := call(l.ctx, l.h, m, l.stats)
		if err == nil {
			l.stats.delivered.Add(1)
			s.acked(item)
			return
		}
		var pe *PanicError
		if errors.As(err, &pe) {
			l.hooks.emit(Event{Kind: EventPanicked, Topic: m.Topic, Group: l.group, MessageID: m.ID, Attempt: attempt, Err: err})
		}
		if errors.Is(err, ErrHandBack) && l.isStopping() {
			s.handBack(item, false)
			return
		}
		if l.ctx.Err() != nil {
			s.handBack(item, true)
			return
		}
		l.stats.failed.Add(1)
		if attempt >= l.d.maxAttempts {
			s.giveUp(item, m, attempt, err)
			return
		}
		l.stats.retried.Add(1)
		l.hooks.emit(Event{Kind: EventRetried, Topic: m.Topic, Group: l.group, MessageID: m.ID, Attempt: attempt, Err: err})
		if backoff.Sleep(l.ctx, l.d.retryWait(attempt)) != nil {
			s.handBack(item, true)
			return
		}
		next, ok := s.again(item, attempt)
		if !ok {
			return
		}
		attempt = next
	}
}
