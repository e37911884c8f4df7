package breaker

// moveLocked starts a new period in state to (which may be the current
// state: a new period of it), d being the open time or half-open lease.
func (b *Breaker) moveLocked(cur uint64, to State, now, d int64) {
	from := stateOf(cur)
	switch to {
	case Open:
		until := now + d
		b.openUntil.Store(until)
		b.openErr.Store(&OpenError{Name: b.name, Until: b.timeAt(until), now: b.clock})
	case HalfOpen:
		b.hoAdmitted, b.hoSucceeded, b.hoLease = 0, 0, now+d
	}
	next := nextWord(cur, to)
	if to == Closed && b.win != nil {
		b.win.reset(uint32(next >> genShift))
	}
	b.word.Store(next)
	if from != to {
		b.transitions++
		b.lastChange = b.timeAt(now)
		if b.onChange != nil {
			b.pending = append(b.pending, change{from, to})
		}
	}
}

// deliver calls OnStateChange for the queued changes, in order, outside
// b.mu. One goroutine delivers at a time; a change queued meanwhile (also
// by the hook itself) is delivered by the goroutine already delivering.
func (b *Breaker) deliver() {
	if b.onChange == nil {
		return
	}
	for {
		b.mu.Lock()
		if b.delivering || len(b.pending) == 0 {
			b.mu.Unlock()
			return
		}
		c := b.pending[0]
		b.pending = b.pending[:copy(b.pending, b.pending[1:])]
		b.delivering = true
		b.mu.Unlock()
		b.callHook(c)
	}
}

func (b *Breaker) callHook(c change) {
	defer func() {
		b.mu.Lock()
		b.delivering = false
		b.mu.Unlock()
	}()
	b.onChange(b.name, c.from, c.to)
}
