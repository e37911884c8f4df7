package notify

import (
	"context"
	"time"

	"github.com/sysdesign/patterns/queue"
)

// sendingRecordDelay is how long a send may take before its "sending"
// status is recorded on its own. A send that returns sooner — most do —
// has it recorded with its outcome, in the same append: one store round
// trip per delivery fewer, and the same history (the entry keeps the time
// the send began). A longer send shows as sending while it lasts, a
// moment after it began.
const sendingRecordDelay = 50 * time.Millisecond

// sendingMark is the "sending" change of a send in progress, recorded by a
// timer if the send outlasts sendingRecordDelay.
type sendingMark struct {
	c     change
	timer *time.Timer
	done  chan struct{} // closed once the timer's record has ended
}

// markSending notes that a send begins now and arms the timer.
func (s *Service) markSending(ctx context.Context, d *queue.Delivery, t task, c change) *sendingMark {
	c.at = s.cfg.Clock()
	m := &sendingMark{c: c, done: make(chan struct{})}
	m.timer = time.AfterFunc(sendingRecordDelay, func() {
		defer close(m.done)
		if err := s.record(ctx, t, c); err != nil {
			s.log.Warn("notify: sending not recorded", "job", d.ID, "err", err)
		}
	})
	return m
}

// stop ends the mark when the send has returned: it returns the change if
// it is still to be recorded, or waits for the timer's record (so that the
// outcome is appended after it) and returns none. A nil mark (the send
// never began) has none.
func (m *sendingMark) stop() []change {
	if m == nil {
		return nil
	}
	if m.timer.Stop() {
		return []change{m.c}
	}
	<-m.done
	return nil
}
