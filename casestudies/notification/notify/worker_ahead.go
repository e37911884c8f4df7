package notify

import (
	"context"
	"time"

	"github.com/sysdesign/patterns/queue"
)

// On Redis a worker waits for two round trips per delivery: the Next that
// takes the job, then the preference read with the rate-limit decision
// beside it. When sends are quick those waits are most of a delivery, so
// a worker whose last send was quick sends the Next for its following job
// as it starts a delivery, and the two round trips overlap.
//
// The cost is a job leased one delivery early. A job taken ahead waits
// for the delivery in hand, which is why only quick sends take ahead: a
// critical notification that arrives just after every worker took a
// normal one ahead waits at most for that many quick sends more. With
// slow providers (the latency a critical notification sees is then mostly
// theirs) a worker takes one job at a time, as in memory, where Next is
// not a round trip and nothing takes ahead.

// takeAheadMaxSend is the longest send after which a worker still takes
// its next job ahead.
const takeAheadMaxSend = 2 * time.Millisecond

// ahead is a Next sent for a worker's following job while it delivers the
// one in hand.
type ahead struct {
	ack *queue.Delivery // the ack the Next carries
	d   *queue.Delivery
	err error
	got chan struct{} // closed once d and err are set
}

// takeAhead sends Next(pull, ack) in the background. Its answer is always
// waited for and acted on (a job it takes is delivered, under run, even
// when pull ends meanwhile), so nothing it leases is left behind.
func (s *Service) takeAhead(pull context.Context, ack *queue.Delivery) *ahead {
	a := &ahead{ack: ack, got: make(chan struct{})}
	go func() {
		defer close(a.got)
		a.d, a.err = s.queue.Next(pull, ack)
	}()
	return a
}

// within reports whether the Next has answered, waiting for it at most
// d on *t, a timer the worker reuses (made on first use): a take that is
// late is common under load, and a timer per delivery is garbage.
func (a *ahead) within(t **time.Timer, d time.Duration) bool {
	select {
	case <-a.got:
		return true
	default:
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	defer (*t).Stop()
	select {
	case <-a.got:
		return true
	case <-(*t).C:
		return false
	}
}

// wait returns the Next's job, the ack it carried and its error.
func (a *ahead) wait() (d, ack *queue.Delivery, err error) {
	<-a.got
	return a.d, a.ack, a.err
}
