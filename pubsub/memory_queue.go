package pubsub

import (
	"context"
	"fmt"
	"sync/atomic"
)

// queue is one subscription's (or one group's) bounded queue.
type queue struct {
	ch      chan *Message
	policy  Overflow
	gone    chan struct{} // closed once the queue is retired (no member left)
	pattern string
	group   string
	members []*memSub // guarded by Memory.mu
	// inFlight counts the messages its workers have taken and not
	// finished (Memory.Depths).
	inFlight atomic.Int64
}

func (q *queue) name() string {
	if q.group != "" {
		return q.group
	}
	return q.pattern
}

// put queues m under q's overflow policy. block false (dead letters)
// never waits for room: a full OverflowBlock queue drops m then.
func (q *queue) put(ctx context.Context, m *Message, block bool, b *Memory) error {
	select {
	case q.ch <- m:
		return nil
	default:
	}
	c := &b.stats
	switch q.policy {
	case OverflowBlock:
		if !block {
			c.droppedNewest.Add(1)
			q.dropped(b, m, nil)
			return nil
		}
		select {
		case q.ch <- m:
			return nil
		case <-q.gone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("pubsub: publish to %s: %w", m.Topic, ctx.Err())
		}
	case OverflowDropOldest:
		for {
			select {
			case old := <-q.ch:
				c.droppedOldest.Add(1)
				q.dropped(b, old, nil)
			default:
			}
			select {
			case q.ch <- m:
				return nil
			default:
			}
		}
	case OverflowDropNewest:
		c.droppedNewest.Add(1)
		q.dropped(b, m, nil)
		return nil
	}
	c.rejected.Add(1)
	err := fmt.Errorf("%w: %s (topic %s)", ErrQueueFull, q.name(), m.Topic)
	q.dropped(b, m, err)
	if !block {
		return nil
	}
	return err
}

func (q *queue) dropped(b *Memory, m *Message, err error) {
	b.cfg.emit(Event{Kind: EventDropped, Topic: m.Topic, Group: q.name(), MessageID: m.ID, Err: err})
}
