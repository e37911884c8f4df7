package notify

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/queue"
)

// On Redis a finished delivery's history append is a round trip of its
// own, and its ack must follow it. A worker that waited for it would wait
// three round trips per delivery (Next, preferences, history); instead it
// records the outcome in the background and takes its next job at once,
// and the ack of the finished one rides the Next after that, by when the
// record has long landed. So besides the delivery it works on a worker
// holds the lease of the one before, recorded or being recorded, and of
// the one whose ack is on its way (and of a job taken ahead, see ahead). The rule that a delivery is acked only once its final
// history entry is recorded holds throughout: whoever acks it (the worker
// or, when the worker sits idle in Next, the recorder) does so after the
// record returned.

// trailAckWait is how long a recorder whose record has returned waits
// for its worker to claim the ack before making it itself. The worker is
// then in Next: mostly about to return with a job (and to ack with its
// following Next, no extra call), else idle, and the delivery must not
// stay unacked while the worker waits for work. It only delays the ack of
// an idle worker's last delivery, by far less than a visibility timeout.
const trailAckWait = 50 * time.Millisecond

// The owners of a trail's ack.
const (
	trailUnclaimed int32 = iota // nobody has taken the ack yet
	trailWorker                 // the worker acks it, with a later Next
	trailRecorder               // the recorder acked it itself (the worker was idle)
)

// trail is a finished delivery whose history is recorded in the
// background, awaiting its ack.
type trail struct {
	d     *queue.Delivery
	owner atomic.Int32
	// recorded is closed once the record returned (stored, or given up on
	// and logged); claimed once the worker took the ack.
	recorded, claimed chan struct{}
}

// trailDelivery records d's outcome with rec (nil: nothing to record) in
// the background and returns its trail. If the worker has not claimed the
// ack within trailAckWait of the record's return — it is still waiting in
// Next for a job — the recorder acks d itself, so that an idle worker
// leaves nothing finished unacked.
func (s *Service) trailDelivery(ctx context.Context, d *queue.Delivery, rec func()) *trail {
	tr := &trail{d: d, recorded: make(chan struct{}), claimed: make(chan struct{})}
	s.wg.Add(1) // the worker holds a count, so Shutdown's Wait has not returned
	go func() {
		defer s.wg.Done()
		if rec != nil {
			rec()
		}
		close(tr.recorded)
		if tr.owner.Load() == trailUnclaimed {
			wait := time.NewTimer(trailAckWait)
			defer wait.Stop()
			select {
			case <-tr.claimed:
			case <-wait.C:
			}
		}
		if tr.owner.CompareAndSwap(trailUnclaimed, trailRecorder) {
			s.settle(ctx, d, func(ctx context.Context) error { return s.queue.Ack(ctx, d) })
		}
	}()
	return tr
}

// claim reports whether the worker acks tr: it claimed it now or earlier.
// False: the recorder acks it (or did).
func (tr *trail) claim() bool {
	if tr.owner.CompareAndSwap(trailUnclaimed, trailWorker) {
		close(tr.claimed)
		return true
	}
	return tr.owner.Load() == trailWorker
}

// ready reports whether tr's record has returned.
func (tr *trail) ready() bool {
	select {
	case <-tr.recorded:
		return true
	default:
		return false
	}
}
