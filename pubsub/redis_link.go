package pubsub

// callFailed counts a consumer's failed Redis call and reports the bus
// detached when it is the first failure since Redis last answered.
func (b *Redis) callFailed(err error) {
	b.stats.errors.Add(1)
	if b.detached.CompareAndSwap(false, true) {
		b.cfg.emit(Event{Kind: EventDetached, Err: err})
	}
}

// callAnswered reports the bus rejoined when Redis answers a consumer
// again after callFailed.
func (b *Redis) callAnswered() {
	if b.detached.Load() && b.detached.CompareAndSwap(true, false) {
		b.cfg.emit(Event{Kind: EventRejoined})
	}
}
