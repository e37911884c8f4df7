package queue

import (
	"strconv"
	"sync"
	"time"
)

// renewChunk bounds the leases one renew script handles.
const renewChunk = 500

// renewLoop renews this process's leases every third of the visibility
// timeout, so a lease outlives two renewals that fail or come late.
func (q *Redis) renewLoop() {
	defer q.done.Done()
	t := time.NewTicker(q.cfg.visibility / 3)
	defer t.Stop()
	for {
		select {
		case <-q.noRenew:
			return
		case <-t.C:
			q.renew()
		}
	}
}

// renew extends every lease this process holds; a lease found lost is
// forgotten and reported (the consumer's Ack will return ErrLeaseLost).
func (q *Redis) renew() {
	q.heldMu.Lock()
	leases := make([]any, 0, len(q.held))
	for lease := range q.held {
		leases = append(leases, lease)
	}
	q.heldMu.Unlock()
	vis := strconv.FormatInt(q.cfg.visibility.Microseconds(), 10)
	for len(leases) > 0 {
		n := min(len(leases), renewChunk)
		chunk := leases[:n]
		leases = leases[n:]
		args := append([]any{vis}, chunk...)
		lost, err := q.bound.Eval(q.ctx, q.c, renewScript, []string{q.k.leases}, args, nil).StringSlice()
		if err != nil {
			if q.closed.Load() {
				return
			}
			q.health.failed(q, err)
			return
		}
		q.health.ok(q)
		for _, lease := range lost {
			if q.drop(lease) {
				q.leaseLost(leaseJobID(lease), 0)
			}
		}
	}
}

// health turns the failures and successes of the queue's own calls (lease
// renewal, the wake-up listener) into Detached and Rejoined events, once
// per outage.
type health struct {
	mu       sync.Mutex
	detached bool
}

func (h *health) failed(q *Redis, err error) {
	h.mu.Lock()
	first := !h.detached
	h.detached = true
	h.mu.Unlock()
	if first {
		q.emit.emit(Event{Kind: Detached, Queue: q.cfg.name, At: time.Now(), Err: err})
	}
}

func (h *health) ok(q *Redis) {
	h.mu.Lock()
	was := h.detached
	h.detached = false
	h.mu.Unlock()
	if was {
		q.emit.emit(Event{Kind: Rejoined, Queue: q.cfg.name, At: time.Now()})
	}
}
