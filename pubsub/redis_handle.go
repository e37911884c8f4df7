package pubsub

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// ack acknowledges handled entries in batches: whatever the workers
// finished while the previous XACK was under way goes in the next one.
// It ends when the workers have ended and every ack is sent.
func (s *redisSub) ack() {
	defer s.wg.Done()
	defer close(s.drained)
	go func() {
		s.wwg.Wait()
		close(s.acks)
	}()
	for id := range s.acks {
		// A fresh slice per batch: a call given up on may still read it.
		ids := append(make([]string, 0, 16), id)
	more:
		for len(ids) < 256 {
			select {
			case id, ok := <-s.acks:
				if !ok {
					break more
				}
				ids = append(ids, id)
			default:
				break more
			}
		}
		err := redisx.Run(s.ctx, s.b.bound(), func(ctx context.Context) error {
			return s.b.client.XAck(ctx, s.stream, s.group, ids...).Err()
		})
		if err != nil {
			s.b.stats.errors.Add(1) // they stay pending and come back: at least once
		}
		s.release(ids...)
	}
}

// worker handles entries until the reader closes work, or until the
// drain ran out of time: then a read may still be under way (on a client
// that honours ctx deadlines, cancelling its ctx does not end it), and
// nothing it returns will be handled.
func (s *redisSub) worker() {
	defer s.wg.Done()
	defer s.wwg.Done()
	for {
		select {
		case e, ok := <-s.work:
			if !ok {
				return
			}
			if s.stopped() { // stopping starts nothing new: hand back what waits
				s.handBackEntries(append(s.takeQueued(), e), false)
				continue
			}
			s.handle(e)
		case <-s.ctx.Done():
			return
		}
	}
}

// hold marks entries just read or claimed as this consumer's: the
// heartbeat keeps them from being reclaimed until release.
func (s *redisSub) hold(es []entry) {
	if len(es) == 0 {
		return
	}
	s.mu.Lock()
	for _, e := range es {
		s.held[e.id] = false
	}
	s.mu.Unlock()
}

// appendHeld appends the ids of the entries this consumer holds, those
// being handed back included, to args.
func (s *redisSub) appendHeld(args []any) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	args = slices.Grow(args, len(s.held))
	for id := range s.held {
		args = append(args, id)
	}
	return args
}

// release stops heartbeating entries: acknowledged, dead-lettered, or
// given up to be reclaimed.
func (s *redisSub) release(ids ...string) {
	s.mu.Lock()
	for _, id := range ids {
		delete(s.held, id)
	}
	s.mu.Unlock()
}

// handle delivers e through the shared delivery loop, whose settler
// methods below release it (the ack goroutine, once its XACK is done).
func (s *redisSub) handle(e entry) {
	m, err := decodeFields(&e)
	if err != nil {
		// Undeliverable: dead-letter it at once, as far as it can be read.
		s.giveUp(e, &Message{ID: e.id, Topic: "unknown"}, e.attempt, err)
		return
	}
	deliver[entry](&s.loop, s, e, m, e.attempt)
}

// acked implements settler: the ack goroutine acknowledges e in its next
// batch.
func (s *redisSub) acked(e entry) { s.acks <- e.id }

// handBack implements settler: e stays pending, claimable by another
// consumer at once (see handBackEntries).
func (s *redisSub) handBack(e entry, counted bool) {
	s.handBackEntries([]entry{e}, counted)
}

// handBackEntries releases entries this consumer holds, unfinished: they
// stay pending, claimable by another consumer at once (lua/handback.lua),
// in one call. Once the drain ran out of time the call gets
// shutdownGrace, so that it does not hold the shutdown; if it fails, the
// entries are reclaimed after the visibility timeout instead, and stay
// held, unheartbeated, until then: a call given up at its bound may still
// run on the server, and this consumer's own lost pass must not take an
// entry back that the late script would then hand to another consumer
// while it is being handled here.
func (s *redisSub) handBackEntries(es []entry, counted bool) {
	if len(es) == 0 {
		return
	}
	args := make([]any, 0, 4+len(es))
	args = append(args, s.group, s.consumer, s.b.cfg.visibility.Milliseconds(), uncount(counted))
	ids := make([]string, len(es))
	s.mu.Lock()
	for i, e := range es {
		// Held until the script has run, so that no reclaim pass of this
		// consumer takes it meanwhile, but no longer heartbeated: a
		// heartbeat after the script would undo its idle time.
		if _, ok := s.held[e.id]; ok {
			s.held[e.id] = true
		}
		ids[i] = e.id
		args = append(args, e.id)
	}
	s.mu.Unlock()
	b := s.b
	ctx, bound := s.ctx, b.bound()
	if ctx.Err() != nil {
		ctx, bound = context.Background(), b.boundOf(shutdownGrace)
	}
	err := bound.Eval(ctx, b.client, handbackScript, []string{s.stream}, args, nil).Err()
	if err != nil {
		b.stats.errors.Add(1)
		time.AfterFunc(b.cfg.visibility, func() { s.release(ids...) })
	} else {
		s.release(ids...)
	}
	b.stats.handedBack.Add(uint64(len(es)))
	for _, e := range es {
		b.cfg.emit(Event{Kind: EventHandedBack, Group: s.name(), MessageID: e.id, Attempt: e.attempt, Err: err})
	}
}

// uncount is handback.lua's ARGV[4]: "1" takes the delivery back from the
// entry's delivery count.
func uncount(counted bool) string {
	if counted {
		return "0"
	}
	return "1"
}

// giveUp implements settler: e is dead-lettered (atomically with its
// XACK) and released.
func (s *redisSub) giveUp(e entry, m *Message, attempts int, cause error) {
	defer s.release(e.id)
	s.deadLetter(e, m, attempts, cause)
}

// again implements settler: e is claimed again for the next delivery,
// unless it is no longer this consumer's.
func (s *redisSub) again(e entry, _ int) (int, bool) {
	_, es, err := s.claim(s.ctx, "retry", e.id)
	if err != nil {
		s.b.stats.errors.Add(1)
		s.release(e.id)
		return 0, false // still pending: reclaimed after the visibility timeout
	}
	if len(es) == 0 {
		s.release(e.id)
		return 0, false // no longer ours: acknowledged or reclaimed elsewhere
	}
	return es[0].attempt, true
}

func (s *redisSub) deadLetter(e entry, m *Message, attempts int, cause error) {
	b := s.b
	if m.Topic == b.cfg.deadTopic {
		err := redisx.Run(s.ctx, b.bound(), func(ctx context.Context) error {
			return b.client.XAck(ctx, s.stream, s.group, e.id).Err()
		})
		if err != nil {
			b.stats.errors.Add(1)
			return
		}
		b.stats.deadDropped.Add(1)
		b.cfg.emit(Event{Kind: EventDeadDropped, Topic: m.Topic, Group: s.name(), MessageID: m.ID, Attempt: attempts, Err: cause})
		return
	}
	name := s.name()
	fields, err := appendFields(make([]any, 2, 2+encodedFields), b.idBase+strconv.FormatUint(b.seq.Add(1), 10), b.cfg.deadTopic, m.Payload,
		deadMetadata(m, name, attempts, cause), b.cfg.now())
	if err == nil {
		err = b.route(s.ctx, b.cfg.deadTopic, []string{s.stream, s.group, e.id}, fields)
	}
	if err != nil {
		b.stats.errors.Add(1)
		return
	}
	b.stats.deadLettered.Add(1)
	b.cfg.emit(Event{Kind: EventDeadLettered, Topic: m.Topic, Group: name, MessageID: m.ID, Attempt: attempts, Err: cause})
}
