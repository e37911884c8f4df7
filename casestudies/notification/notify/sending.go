package notify

import (
	"context"
	"sync"
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

// sendingMark is the "sending" change of a send in progress, recorded by
// its timer if the send outlasts sendingRecordDelay. Marks are reused
// through sendingMarks, timer included: a fresh time.AfterFunc per
// delivery (timer, closure, channel) was a measurable share of the
// in-memory delivery cost, and a stopped timer can simply be re-armed.
type sendingMark struct {
	timer *time.Timer
	fired chan struct{} // receives once per arming whose record ran

	mu sync.Mutex // guards what the timer's goroutine reads
	s  *Service
	// ctx is the delivery's: the record is made on it. Cleared on release
	// so an idle mark keeps nothing alive.
	ctx context.Context
	d   *queue.Delivery
	t   task
	c   change
}

var sendingMarks = sync.Pool{New: func() any {
	m := &sendingMark{fired: make(chan struct{}, 1)}
	m.timer = time.AfterFunc(time.Hour, m.record)
	m.timer.Stop()
	return m
}}

// markSending notes that a send begins now and arms a mark's timer.
func (s *Service) markSending(ctx context.Context, d *queue.Delivery, t task, c change) *sendingMark {
	c.at = s.cfg.Clock()
	m := sendingMarks.Get().(*sendingMark)
	m.mu.Lock()
	m.s, m.ctx, m.d, m.t, m.c = s, ctx, d, t, c
	m.mu.Unlock()
	m.timer.Reset(sendingRecordDelay)
	return m
}

// record is the timer's function: the send outlasted the delay.
func (m *sendingMark) record() {
	m.mu.Lock()
	s, ctx, d, t, c := m.s, m.ctx, m.d, m.t, m.c
	m.mu.Unlock()
	if err := s.record(ctx, t, c); err != nil {
		s.log.Warn("notify: sending not recorded", "job", d.ID, "err", err)
	}
	m.fired <- struct{}{}
}

// stop ends the mark when the send has returned: it returns the change if
// it is still to be recorded, or waits for the timer's record (so that the
// outcome is appended after it) and returns none. Either way the mark goes
// back to the pool: its timer can fire no more for this send. A nil mark
// (the send never began) has none.
func (m *sendingMark) stop() []change {
	if m == nil {
		return nil
	}
	var pending []change
	if m.timer.Stop() {
		pending = append(make([]change, 0, 2), m.c) // room for the outcome
	} else {
		<-m.fired
	}
	m.mu.Lock()
	m.s, m.ctx, m.d, m.t, m.c = nil, nil, nil, task{}, change{}
	m.mu.Unlock()
	sendingMarks.Put(m)
	return pending
}
