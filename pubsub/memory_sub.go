package pubsub

import (
	"context"
	"sync"
)

// memSub is one Subscribe's workers on a queue.
type memSub struct {
	b    *Memory
	q    *queue
	loop loop
	// stopFn closes stop (the loop's stopping): the subscription stops
	// taking messages, and Stopping(ctx) tells its handlers.
	stop   <-chan struct{}
	stopFn context.CancelFunc
	cancel context.CancelFunc // cancels the handlers' context
	drain  bool               // set before stop is closed: empty the queue first
	ended  bool               // guarded by Memory.mu
	wg     sync.WaitGroup

	// stopFollowingCtx stops the Subscribe context from ending the
	// subscription; finished is closed once that end has run.
	stopFollowingCtx func() bool
	endedByCtx       bool // guarded by Memory.mu
	finished         chan struct{}
}

func newMemSub(b *Memory, q *queue, h Handler, d delivery) *memSub {
	stopCtx, stopFn := context.WithCancel(context.Background())
	s := &memSub{b: b, q: q, stop: stopCtx.Done(), stopFn: stopFn, finished: make(chan struct{}),
		stopFollowingCtx: func() bool { return false }}
	ctx, cancel := handlerContext(s.stop)
	s.cancel = cancel
	s.loop = loop{h: h, d: d, group: q.name(), stats: &b.stats, hooks: &b.cfg.hooks, ctx: ctx, stopping: s.stop}
	return s
}

func (s *memSub) start(workers int) {
	s.wg.Add(workers)
	for range workers {
		go s.work()
	}
}

// endWith ends the subscription when ctx ends.
func (s *memSub) endWith(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { _ = s.end(true) })
	s.b.mu.Lock()
	s.stopFollowingCtx = stop
	s.b.mu.Unlock()
}

func (s *memSub) work() {
	defer s.wg.Done()
	var msg Message // reused for every delivery: handlers must not keep it
	for {
		// While messages are queued and the subscription is not stopping,
		// take them with plain non-blocking receives: a two-way select
		// locks both channels on every message and was a third of a
		// publish-to-delivery. A closed stop falls through to the select
		// below, which handles it as before.
		select {
		case <-s.stop:
		default:
			select {
			case m := <-s.q.ch:
				if !s.take(m, &msg) {
					return
				}
				continue
			default:
			}
		}
		select {
		case m := <-s.q.ch:
			if !s.take(m, &msg) {
				return
			}
		case <-s.stop:
			for s.drain && s.loop.ctx.Err() == nil {
				select {
				case m := <-s.q.ch:
					s.deliver(m, &msg)
				default:
					return
				}
			}
			return
		}
	}
}

// take delivers m, taken off the queue, and reports whether the worker
// goes on. A select whose stop and queue are both ready picks either, so a
// stopped member may take a message after all: unless it drains the queue
// (it was the last member), it puts m back for the group (it never
// delivered it: no hand-back to report) and ends.
func (s *memSub) take(m *Message, msg *Message) bool {
	select {
	case <-s.stop:
		if !s.drain {
			if !s.requeue(m) {
				s.abandon(m)
			}
			return false
		}
	default:
	}
	s.deliver(m, msg)
	return true
}

// requeue puts m back on the group's queue if a member is left to take
// it and there is room.
func (s *memSub) requeue(m *Message) bool {
	select {
	case <-s.q.gone:
		return false
	default:
	}
	select {
	case s.q.ch <- m:
		return true
	default:
		return false
	}
}

// abandon drops m: no member is left to take it.
func (s *memSub) abandon(m *Message) {
	s.b.stats.abandoned.Add(1)
	s.b.cfg.emit(Event{Kind: EventHandedBack, Topic: m.Topic, Group: s.q.name(), MessageID: m.ID, Err: ErrClosed})
}

// deliver runs the delivery loop on the worker's copy of the shared m.
func (s *memSub) deliver(m *Message, msg *Message) {
	s.q.inFlight.Add(1)
	defer s.q.inFlight.Add(-1)
	*msg = *m
	deliver[*Message](&s.loop, s, m, msg, 1)
}

// acked implements settler: nothing to do in memory.
func (s *memSub) acked(*Message) {}

// handBack implements settler: m goes back to the group if another member
// can take it, else it is dropped and counted as abandoned. A memory
// message carries no delivery count: the member that takes it delivers it
// from attempt 1.
func (s *memSub) handBack(m *Message, _ bool) {
	if !s.requeue(m) {
		s.abandon(m)
		return
	}
	s.b.stats.handedBack.Add(1)
	s.b.cfg.emit(Event{Kind: EventHandedBack, Topic: m.Topic, Group: s.q.name(), MessageID: m.ID})
}

// giveUp implements settler.
func (s *memSub) giveUp(m *Message, _ *Message, attempts int, cause error) {
	s.b.deadLetter(m, s.q.name(), attempts, cause)
}

// again implements settler: the worker keeps the message in memory.
func (s *memSub) again(_ *Message, attempt int) (int, bool) { return attempt + 1, true }

// Unsubscribe implements Subscription. After the end of the context
// given to Subscribe it waits for that end to finish and returns nil.
func (s *memSub) Unsubscribe() error { return s.end(false) }

// end stops s: by Unsubscribe, or (byCtx) by the end of its Subscribe
// context.
func (s *memSub) end(byCtx bool) error {
	b := s.b
	b.mu.Lock()
	if s.ended {
		endedByCtx := s.endedByCtx
		b.mu.Unlock()
		if endedByCtx && !byCtx {
			<-s.finished
			return nil
		}
		return ErrClosed
	}
	s.endedByCtx = byCtx
	b.detach(s)
	stopFollowing := s.stopFollowingCtx
	b.mu.Unlock()
	defer close(s.finished)
	stopFollowing()
	s.stopFn()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return drainAll(ctx, []*memSub{s})
}

func (s *memSub) waitGoroutines() { s.wg.Wait() }
func (s *memSub) cancelHandlers() { s.cancel() }
