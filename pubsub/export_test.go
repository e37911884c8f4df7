package pubsub

import "context"

// CrashMemorySubscription stops s as a crash would, for the conformance
// suite's crash case on one memory bus: s leaves its group at once, its
// drain time has run out (its handler's context is cancelled) and what it
// holds goes back to the group.
func CrashMemorySubscription(s Subscription) {
	ms := s.(*memSub)
	m := ms.b
	m.mu.Lock()
	m.detach(ms)
	m.mu.Unlock()
	ms.stopFn()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = drainAll(ctx, []*memSub{ms})
}
