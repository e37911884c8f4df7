package pubsub

import (
	"context"
	"errors"
	"strconv"

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
		s.held[e.id] = struct{}{}
	}
	s.mu.Unlock()
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

// handle delivers e until it is acknowledged (the ack goroutine releases
// it once its XACK is done), dead-lettered or given up.
func (s *redisSub) handle(e entry) {
	c := &s.b.stats
	acked := false
	defer func() {
		if !acked {
			s.release(e.id)
		}
	}()
	m, err := decodeFields(e.get)
	if err != nil {
		// Undeliverable: dead-letter it at once, as far as it can be read.
		m = &Message{ID: e.id, Topic: "unknown"}
		s.deadLetter(e, m, e.attempt, err)
		return
	}
	for attempt := e.attempt; ; attempt++ {
		m.Attempt = attempt
		if attempt > s.d.maxAttempts {
			// Delivered too often already: its consumers died mid-handler.
			s.deadLetter(e, m, attempt-1, errors.New("pubsub: consumers stopped while handling it"))
			return
		}
		if s.ctx.Err() != nil {
			return // stopped: it stays pending, for another consumer
		}
		err := call(s.ctx, s.h, m, c)
		if err == nil {
			acked = true
			s.acks <- e.id
			c.delivered.Add(1)
			return
		}
		c.failed.Add(1)
		if s.ctx.Err() != nil {
			return // stopping: it stays pending, for another consumer
		}
		if attempt >= s.d.maxAttempts {
			s.deadLetter(e, m, attempt, err)
			return
		}
		c.retried.Add(1)
		if !sleep(s.d.backoff(attempt), s.ctx.Done()) {
			return
		}
		_, es, cerr := s.claim(s.ctx, "retry", e.id)
		if cerr != nil {
			c.errors.Add(1)
			return // still pending: reclaimed after the visibility timeout
		}
		if len(es) == 0 {
			return // no longer ours: acknowledged or reclaimed elsewhere
		}
		attempt = es[0].attempt - 1
	}
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
		return
	}
	name := s.group
	if s.ephemeral {
		name = s.pattern
	}
	fields, err := encodeFields(b.idBase+strconv.FormatUint(b.seq.Add(1), 10), b.cfg.deadTopic, m.Payload,
		deadMetadata(m, name, attempts, cause), b.cfg.now())
	if err == nil {
		err = b.route(s.ctx, b.cfg.deadTopic, []string{s.stream, s.group, e.id}, fields)
	}
	if err != nil {
		b.stats.errors.Add(1)
		return
	}
	b.stats.deadLettered.Add(1)
}
