package pubsub

import "time"

// heartbeat keeps held entries from being reclaimed and renews an
// ephemeral group's lease (binding the group again when its lease is
// gone), until the workers have ended; while the subscription runs, it
// also reaps the ephemeral groups of dead processes.
func (s *redisSub) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(s.heartbeatEvery())
	defer t.Stop()
	b := s.b
	for {
		select {
		case <-s.drained:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		args := make([]any, 0, 3+len(s.held))
		args = append(args, s.group, s.consumer, s.leaseArg())
		for id, back := range s.held {
			if !back {
				args = append(args, id)
			}
		}
		s.mu.Unlock()
		began := time.Now()
		alive, err := b.bound().Eval(s.ctx, b.client, heartbeatScript, []string{s.stream, b.ephKey, s.lease}, args, nil).Int64()
		if err != nil {
			b.stats.errors.Add(1)
		}
		if err != nil || time.Since(began) > s.heartbeatEvery() {
			// Redis is out of reach or overloaded: others may be late
			// renewing their leases too.
			b.holdReaping(s.leaseFor())
		}
		if s.stopped() {
			continue
		}
		if err == nil && alive == 0 {
			s.rebind(s.ctx) // reaped or lost: bind again before publishers miss it
		}
		if b.mayReap() {
			if err := b.reap(s.ctx); err != nil {
				b.stats.errors.Add(1)
				b.holdReaping(s.leaseFor())
			}
		}
	}
}
