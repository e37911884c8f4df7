package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/backoff"
	"github.com/sysdesign/patterns/queue"
	"github.com/sysdesign/patterns/ratelimit"
)

// work is one worker: take a job, deliver it, repeat until pull ends;
// each delivery runs under run, which outlives pull so that a shutdown
// lets it finish. A delivery that ends in an ack is acked by a later Next:
// on Redis one script for both. In memory that is the Next that takes the
// following job; on Redis, where its history is recorded in the
// background (see trail), the Next after that. While sends are quick, a
// worker on Redis also takes its next job ahead, during the delivery
// before it (see ahead), so at most four leases per worker: the job in
// hand, the one taken ahead, and two finished ones whose acks are on
// their way. A queue that fails (Redis down) is retried with a capped
// backoff, the acks still pending included, so workers resume by
// themselves when it returns.
func (s *Service) work(pull, run context.Context) {
	failures := 0
	var done *queue.Delivery // recorded, to be acked by the next Next
	var prev *trail          // finished, its record maybe in flight: acked by a later Next
	var next *ahead          // the Next for the following job, sent during the last delivery
	quick := false           // the last send was quick enough to take the next job ahead
	var late *time.Timer     // waits for a take ahead that is late (reused)
	for {
		if next == nil && prev != nil && done == nil && prev.ready() {
			if prev.claim() {
				done = prev.d // recorded already: no need to wait for a job to ack it
			}
			prev = nil
		}
		var d, carried *queue.Delivery // carried: the ack the Next that answers carried
		var err error
		if next != nil {
			if done != nil && !next.within(&late, trailAckWait) {
				// No job came yet (the queue may be empty for long): the
				// finished delivery is acked on its own, not left leased.
				s.ackLast(run, done, nil)
				done = nil
			}
			d, carried, err = next.wait()
			next = nil
		} else {
			carried, done = done, nil
			d, err = s.queue.Next(pull, carried)
		}
		if err == nil && prev != nil && !prev.claim() {
			// Recorded while this worker waited in Next, and acked by its
			// recorder. A worker claims only with a job in hand: one that
			// failed to get a job may next wait in Next for long.
			prev = nil
		}
		if err != nil {
			if errors.Is(err, queue.ErrClosed) {
				return
			}
			if carried != nil && errors.Is(err, queue.ErrLeaseLost) {
				// Another worker owns the job now; or an earlier Next's
				// ack landed and only its answer was lost.
				continue
			}
			if pull.Err() != nil {
				s.ackLast(run, carried, err)
				s.ackLast(run, done, nil)
				s.ackTrail(run, prev)
				return
			}
			failures++
			s.log.Warn("notify: taking a job failed", "err", err, "failures", failures, "pending_ack", carried != nil || done != nil || prev != nil)
			// carried's ack outcome is unknown, so it is acked again: by
			// the next Next, or here when that has one to carry already.
			if done == nil {
				done = carried
			} else if carried != nil {
				s.ackLast(run, carried, nil)
			}
			if backoff.Sleep(pull, backoff.Capped(50*time.Millisecond, 5*time.Second, failures)) != nil {
				s.ackLast(run, done, nil)
				s.ackTrail(run, prev)
				return
			}
			continue
		}
		failures = 0
		switch {
		case quick && s.cfg.Redis != nil:
			next = s.takeAhead(pull, done)
			done = nil
		case done != nil:
			// This job was taken ahead and the last send was slow: no Next
			// goes out during this delivery to carry the pending ack.
			s.ackLast(run, done, nil)
			done = nil
		}
		out := s.deliver(run, d)
		if out.sent {
			quick = out.sendTook < takeAheadMaxSend
		}
		if prev != nil {
			<-prev.recorded // started a delivery ago: mostly landed already
			done, prev = prev.d, nil
		}
		// Only the Redis service trails, and there every ended delivery
		// does: done and out.ack are never both set.
		if out.tr != nil {
			prev = out.tr
		} else if out.ack != nil {
			done = out.ack
		}
	}
}

// ackLast makes sure a worker that stops leaves a delivery acked whose
// ack a Next carried and failed with err, or (err nil) that no Next
// carried: Next acks even when its ctx is done, so an ack that failed
// with the ctx's error has landed; any other is made here, as long as run
// lasts.
func (s *Service) ackLast(run context.Context, done *queue.Delivery, err error) {
	if done == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.settle(run, done, func(ctx context.Context) error { return s.queue.Ack(ctx, done) })
}

// ackTrail acks a stopping worker's trailing delivery once its record
// returned, as long as run lasts, unless its recorder acked it.
func (s *Service) ackTrail(run context.Context, tr *trail) {
	if tr == nil || !tr.claim() {
		return
	}
	<-tr.recorded
	s.settle(run, tr.d, func(ctx context.Context) error { return s.queue.Ack(ctx, tr.d) })
}

// outcome is how a delivery ended, for its worker: ack, to be acked by the
// next Next (recorded in memory), or tr, recorded in the background (on
// Redis); neither when the job went back to the queue (retry, deferral)
// or was abandoned at shutdown.
type outcome struct {
	ack *queue.Delivery
	tr  *trail
	// sent says the delivery reached its sender, which took sendTook
	// (real time, whatever Config.Clock).
	sent     bool
	sendTook time.Duration
}

// ended returns the outcome of d, which ends with no history to record.
func (s *Service) ended(ctx context.Context, d *queue.Delivery) outcome {
	if s.cfg.Redis == nil {
		return outcome{ack: d}
	}
	return outcome{tr: s.trailDelivery(ctx, d, nil)}
}

// deliver runs one delivery through the checks, in order — opt-out (then
// skipped), quiet hours (non-critical: deferred to their end), the
// provider's circuit (open: deferred until it may half-open), the user's
// rate limit (deferred until allowed) — then sends it through the
// channel's breaker. On Redis the rate-limit decision is asked for while
// the preferences are read (limitAhead), and acted on in the order above.
// It settles a job that goes back to the queue (Retry, Defer) and returns
// an outcome to ack when the job is done with: a later Next does that.
func (s *Service) deliver(ctx context.Context, d *queue.Delivery) outcome {
	t, err := decodeTask(d.Payload)
	if err != nil || s.cfg.Senders[t.Channel] == nil {
		s.log.Error("notify: dropping an unreadable job", "job", d.ID, "err", err)
		return s.ended(ctx, d)
	}
	now := s.cfg.Clock()
	b := s.breakers[t.Channel]
	limit := s.limitAhead(ctx, t, b)
	prefs, err := s.prefView.Get(ctx, t.UserID)
	dec, asked, limitErr := limit()
	if err != nil {
		// Without the preferences the opt-out cannot be checked: wait
		// (real time: a fake clock would never end the wait), then put
		// the job back for whichever worker is free.
		s.log.Warn("notify: preferences unavailable; delivery deferred", "job", d.ID, "err", err)
		_ = backoff.Sleep(ctx, DefaultUnavailableWait)
		s.settle(ctx, d, func(ctx context.Context) error { return s.queue.Defer(ctx, d, time.Time{}) })
		return outcome{}
	}
	if prefs.optedOut(t.Channel) {
		return s.finish(ctx, d, t, change{status: Skipped, attempt: d.Attempt - 1, reason: "user opted out of " + t.Channel})
	}
	if !t.critical() {
		if until, quiet := prefs.QuietHours.quietUntil(now); quiet {
			return s.postpone(ctx, d, t, until, "quiet hours until "+until.Format("15:04 MST"))
		}
	}
	if b.State() == breaker.Open {
		return s.postpone(ctx, d, t, s.reopensAt(b, now), "provider circuit open")
	}
	if s.limiter != nil {
		if !asked {
			dec, limitErr = s.limiter.Allow(ctx, t.UserID+":"+t.Channel)
		}
		switch err := limitErr; {
		case err != nil:
			// A limiter that fails does not hold deliveries up: the limit
			// protects users from floods, not the service from failure.
			s.log.Warn("notify: rate limiter failed; delivering", "job", d.ID, "err", err)
		case !dec.Allowed:
			return s.postpone(ctx, d, t, now.Add(max(dec.RetryAfter, time.Millisecond)), "rate limit")
		}
	}
	return s.send(ctx, d, t, b)
}

// limitAhead starts t's rate-limit decision while the caller reads the
// preferences, when both are Redis round trips: a delivery then waits for
// one round trip instead of two in a row (on a coalescing client the two
// calls can share a pipeline). The returned func waits for the decision;
// asked is false when none was started — in memory, where both are local
// and a goroutine would cost more than it saves, without a limiter, or
// with the provider's circuit open (the delivery waits for it without
// asking) — and then the caller decides in order, if it still needs to.
//
// The cost: a delivery that the preferences then skip (the user opted out
// of the channel) or defer (quiet hours) has used a token of its
// user-and-channel budget. An opted-out channel's budget is spent on
// nothing else; a deferral ends hours later, when the budget has refilled.
func (s *Service) limitAhead(ctx context.Context, t task, b *breaker.Breaker) func() (ratelimit.Decision, bool, error) {
	if s.limiter == nil || s.cfg.Redis == nil || b.State() == breaker.Open {
		return notAsked
	}
	var (
		dec  ratelimit.Decision
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		dec, err = s.limiter.Allow(ctx, t.UserID+":"+t.Channel)
	}()
	return func() (ratelimit.Decision, bool, error) {
		<-done
		return dec, true, err
	}
}

func notAsked() (ratelimit.Decision, bool, error) { return ratelimit.Decision{}, false, nil }

// send hands the delivery to the provider through its breaker and acts on
// the outcome; it returns the delivery's outcome for its worker.
func (s *Service) send(ctx context.Context, d *queue.Delivery, t task, b *breaker.Breaker) (out outcome) {
	attempt := d.Attempt
	var began time.Time
	var took time.Duration
	defer func() { out.sent, out.sendTook = !began.IsZero(), took }()
	msg := senders.Message{ID: jobID(t.NotificationID, t.Channel), Channel: t.Channel, To: t.UserID,
		Priority: t.Priority, Subject: t.Subject, Body: t.Body, Attempt: attempt}
	var mark *sendingMark
	err := b.Execute(ctx, func(sendCtx context.Context) error {
		// The mark records on ctx: Execute's may end before it fires.
		mark = s.markSending(ctx, d, t, change{status: Sending, attempt: attempt})
		began = time.Now()
		return s.cfg.Senders[t.Channel].Send(sendCtx, msg)
	})
	if !began.IsZero() {
		took = time.Since(began)
	}
	// sending is the "sending" change when it is still to be recorded,
	// with the outcome.
	sending := mark.stop()
	now := s.cfg.Clock()
	var open *breaker.OpenError
	switch {
	case err == nil:
		return s.finish(ctx, d, t, append(sending, change{status: Sent, attempt: attempt})...)
	case errors.As(err, &open):
		return s.postpone(ctx, d, t, maxTime(open.Until, now.Add(time.Millisecond)), "provider circuit open")
	case errors.Is(err, breaker.ErrOpen):
		return s.postpone(ctx, d, t, s.reopensAt(b, now), "provider circuit open")
	case errors.Is(err, breaker.ErrTooManyCalls):
		return s.postpone(ctx, d, t, now.Add(s.cfg.ProbeWait), "provider circuit half-open: another delivery is probing")
	case ctx.Err() != nil:
		// Shutting down: the queue's Close releases the lease and the
		// delivery runs again later (it may have reached the provider).
		return outcome{}
	case senders.IsPermanent(err):
		return s.finish(ctx, d, t, append(sending, change{status: Failed, attempt: attempt, reason: err.Error(), err: err})...)
	case attempt >= s.cfg.MaxAttempts:
		return s.finish(ctx, d, t, append(sending, change{status: Failed, attempt: attempt, err: err,
			reason: fmt.Sprintf("gave up after %d attempts: %v", attempt, err)})...)
	default:
		next := now.Add(s.retryDelay(attempt))
		s.note(ctx, t, append(sending, change{status: Retrying, at: now, attempt: attempt, next: next, reason: err.Error(), err: err})...)
		s.settle(ctx, d, func(ctx context.Context) error { return s.queue.Retry(ctx, d, next) })
		return outcome{}
	}
}

// retryDelay is the wait after failed attempt n: RetryBase·2^(n-1), capped
// at RetryMax, with equal jitter unless ExactRetryDelays.
func (s *Service) retryDelay(attempt int) time.Duration {
	p := backoff.Policy{Min: s.cfg.RetryBase, Max: s.cfg.RetryMax, Jitter: backoff.Equal}
	if s.cfg.ExactRetryDelays {
		p.Jitter = backoff.None
	}
	return p.Wait(attempt)
}

// reopensAt is when an open circuit lets a probe through.
func (s *Service) reopensAt(b *breaker.Breaker, now time.Time) time.Time {
	return maxTime(b.Metrics().LastTransition.Add(s.cfg.BreakerTimeout), now.Add(time.Millisecond))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// postpone records a deferral and puts the job back, due at until, without
// using an attempt. Nothing is left to ack.
func (s *Service) postpone(ctx context.Context, d *queue.Delivery, t task, until time.Time, reason string) outcome {
	s.note(ctx, t, change{status: Deferred, attempt: d.Attempt - 1, next: until, reason: reason})
	s.settle(ctx, d, func(ctx context.Context) error { return s.queue.Defer(ctx, d, until) })
	return outcome{}
}

// finish records the changes that end a delivery, the final status last,
// and returns its outcome: the job is removed by an ack made once the
// history says how it ended. The changes are stamped now, so a record
// made in the background keeps the times they happened.
func (s *Service) finish(ctx context.Context, d *queue.Delivery, t task, cs ...change) outcome {
	for i := range cs {
		if cs[i].at.IsZero() {
			cs[i].at = s.cfg.Clock()
		}
	}
	if s.cfg.Redis == nil {
		// In memory a record is a short lock: a goroutine would cost
		// more than it saves.
		s.note(ctx, t, cs...)
		return outcome{ack: d}
	}
	return outcome{tr: s.trailDelivery(ctx, d, func() { s.note(ctx, t, cs...) })}
}

// note records cs, retrying a failing store a few times: the delivery has
// happened (or been decided) and its history should say so.
func (s *Service) note(ctx context.Context, t task, cs ...change) {
	var err error
	for i := 1; i <= 3; i++ {
		if err = s.record(ctx, t, cs...); err == nil {
			return
		}
		if backoff.Sleep(ctx, backoff.Capped(20*time.Millisecond, 500*time.Millisecond, i)) != nil {
			break
		}
	}
	s.log.Error("notify: status not recorded", "id", t.NotificationID, "channel", t.Channel, "status", cs[len(cs)-1].status, "err", err)
}

// settle runs a queue operation that ends a delivery, retrying while the
// queue fails (Redis down): the queue keeps renewing a lease until it is
// ended, so a delivery given up on here would stay leased to this process.
// It stops when the lease is lost (another worker owns the job now), the
// queue is closed, or ctx ends (shutdown: Close releases the lease).
func (s *Service) settle(ctx context.Context, d *queue.Delivery, op func(context.Context) error) {
	for i := 1; ; i++ {
		err := op(ctx)
		if err == nil || ctx.Err() != nil || errors.Is(err, queue.ErrLeaseLost) || errors.Is(err, queue.ErrClosed) {
			return
		}
		s.log.Warn("notify: queue operation failed; retrying", "job", d.ID, "err", err, "failures", i)
		if backoff.Sleep(ctx, backoff.Capped(50*time.Millisecond, 5*time.Second, i)) != nil {
			return
		}
	}
}

// change is one status change of a channel delivery.
type change struct {
	status  Status
	at      time.Time // when it happened; zero: now
	attempt int
	next    time.Time
	reason  string
	err     error
}

// record appends cs to the notification's history, in one append, and
// tells the observer.
func (s *Service) record(ctx context.Context, t task, cs ...change) error {
	var buf [2]cqrs.Event
	evs := buf[:0]
	data := make([]statusData, len(cs))
	for i, c := range cs {
		if c.at.IsZero() {
			cs[i].at = s.cfg.Clock()
		}
		data[i] = statusData{Channel: t.Channel, Status: c.status, Attempt: max(c.attempt, 0), At: cs[i].at, Reason: c.reason}
		if !c.next.IsZero() {
			next := c.next
			data[i].NextAt = &next
		}
		evs = append(evs, newStatusEvent(data[i]))
	}
	if err := s.appendHistory(ctx, t.critical(), streamID(t.NotificationID), cqrs.StreamExists, evs...); err != nil {
		return err
	}
	for i, c := range cs {
		s.stats.count(c.status)
		s.observe(Event{Kind: EventStatus, At: cs[i].at, NotificationID: t.NotificationID, UserID: t.UserID,
			Channel: t.Channel, Priority: t.Priority, Status: c.status, Attempt: data[i].Attempt, NextAt: c.next,
			Reason: c.reason, Err: c.err})
	}
	return nil
}

// isProviderFailure is the breakers' IsFailure: only transient failures
// say a provider is unwell; a permanent one (a bad address) is the
// message's fault, and a cancelled call says nothing.
func isProviderFailure(err error) bool {
	return err != nil && !senders.IsPermanent(err) && !errors.Is(err, context.Canceled)
}
