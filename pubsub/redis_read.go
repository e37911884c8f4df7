package pubsub

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/backoff"
	"github.com/sysdesign/patterns/internal/redisx"
)

// read feeds the workers until stop, then hands back what they did not
// start and closes work.
func (s *redisSub) read() {
	defer s.wg.Done()
	defer func() {
		s.handBackEntries(s.takeQueued(), false)
		close(s.work)
	}()
	b := s.b
	ctx := s.ctx
	// Entries this consumer name held when it last stopped.
	for cursor := "0-0"; !s.stopped(); {
		next, es, err := s.claim(ctx, "own", cursor)
		if err != nil {
			b.stats.errors.Add(1)
			break
		}
		s.hold(es)
		if !s.dispatch(es) || len(es) == 0 || next == cursor {
			break
		}
		cursor = next
	}
	lastReclaim, cursor := time.Time{}, "0-0"
	busy := false // the last read found entries: more are likely waiting
	for !s.stopped() {
		if time.Since(lastReclaim) >= s.reclaimEvery() {
			next, es, err := s.claim(ctx, "dead", cursor)
			if err != nil {
				b.callFailed(err)
			} else {
				cursor = next
				s.hold(es)
				s.reclaimed(es)
				if !s.dispatch(es) {
					return
				}
				if cursor == "0-0" {
					lastReclaim = time.Now()
					s.tidy(ctx)
					if !s.dispatch(s.recoverLost(ctx)) {
						return
					}
				}
			}
		}
		es, err := s.readNew(ctx, busy)
		busy = len(es) > 0
		if err != nil {
			if errors.Is(err, redis.Nil) {
				b.callAnswered()
				continue
			}
			if s.stopped() {
				return
			}
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				b.stats.errors.Add(1)
				b.callAnswered()
				s.rebind(ctx) // Redis lost the group, or reaped it while this process was cut off
			} else {
				b.callFailed(err)
			}
			// Back off a little: Redis is down or the group is gone.
			if backoff.Sleep(s.stopCtx, min(b.cfg.readBlock, 100*time.Millisecond)) != nil {
				return
			}
			continue
		}
		b.callAnswered()
		s.hold(es)
		if !s.dispatch(es) {
			return
		}
	}
}

// readNew reads up to a batch of new entries (redis.Nil: none within the
// read block). While entries keep coming (busy: the last read found some)
// it reads without blocking, as a plain command whose reply is parsed
// without a map per entry; otherwise, or when that finds none, it blocks,
// for the read block, as XREADGROUP with BLOCK (which go-redis gives a
// read timeout of the block plus the client's, so that a long block never
// times out on a client that ignores ctx deadlines). A busy subscription
// rarely blocks: Redis wakes a blocked reader for every entry added, which
// costs the server (and so the publishers) more than a read that finds
// several waiting; an idle one makes one read per read block.
func (s *redisSub) readNew(ctx context.Context, busy bool) ([]entry, error) {
	b := s.b
	if busy {
		raw, err := redisx.Do(ctx, b.bound(), func(ctx context.Context) (any, error) {
			return b.client.Do(ctx, "XREADGROUP", "GROUP", s.group, s.consumer, "COUNT", b.cfg.batch,
				"STREAMS", s.stream, ">").Result()
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if err == nil {
			if es := parseReadReply(raw); len(es) > 0 {
				return es, nil
			}
		}
	}
	res, err := redisx.Do(ctx, b.readBound, func(ctx context.Context) ([]redis.XStream, error) {
		return b.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer,
			Streams: []string{s.stream, ">"}, Count: int64(b.cfg.batch), Block: b.cfg.readBlock}).Result()
	})
	if err != nil {
		return nil, err
	}
	var es []entry
	for _, st := range res {
		for _, xm := range st.Messages {
			es = append(es, entry{id: xm.ID, values: xm.Values, attempt: 1})
		}
	}
	return es, nil
}

// parseReadReply reads the entries of a one-stream XREADGROUP reply: a
// map of stream to entries (RESP3) or a list of {stream, entries}
// (RESP2), each entry {id, {field, value, …}}.
func parseReadReply(raw any) []entry {
	var list []any
	switch r := raw.(type) {
	case map[any]any:
		for _, v := range r {
			list, _ = v.([]any)
		}
	case []any:
		if len(r) > 0 {
			if st, ok := r[0].([]any); ok && len(st) == 2 {
				list, _ = st[1].([]any)
			}
		}
	}
	es := make([]entry, 0, len(list))
	for _, x := range list {
		m, ok := x.([]any)
		if !ok || len(m) != 2 {
			continue
		}
		// An element of another shape is skipped: the entry stays pending
		// for this consumer, held by nobody, and recoverLost delivers it
		// through the claim script within a second.
		id, _ := m[0].(string)
		fields, ok := m[1].([]any)
		if id == "" || !ok {
			continue
		}
		es = append(es, entry{id: id, fields: fields, attempt: 1})
	}
	return es
}

// reclaimed reports entries the reclaim pass took over from consumers
// that stopped heartbeating.
func (s *redisSub) reclaimed(es []entry) {
	if len(es) == 0 {
		return
	}
	s.b.stats.reclaimed.Add(uint64(len(es)))
	s.b.cfg.emit(Event{Kind: EventReclaimed, Group: s.name(), MessageID: es[0].id, Attempt: es[0].attempt})
}

// recoverLost takes back the entries pending for this consumer that it
// does not hold: Redis gave them to a read whose reply never arrived (a
// read given up on at its bound, a cut connection, or one that go-redis
// sent again after a read timeout, so that the reply the reader saw was
// the second read's). Nothing heartbeats them, so without this they would
// wait for the visibility timeout, the reclaim pass of a consumer that
// died. It runs on the reader goroutine, between reads, so every entry a
// read or claim returned is held by then (see claim). The entries keep
// their delivery count: the lost read counted a delivery that no handler
// saw. They are returned, held, for dispatch.
func (s *redisSub) recoverLost(ctx context.Context) []entry {
	_, es, err := s.claim(ctx, "lost", "0-0")
	if err != nil {
		s.b.stats.errors.Add(1)
		return nil
	}
	if len(es) > 0 {
		s.b.stats.recovered.Add(uint64(len(es)))
		s.b.cfg.emit(Event{Kind: EventRecovered, Group: s.name(), MessageID: es[0].id, Attempt: es[0].attempt})
	}
	s.hold(es)
	return es
}

// consumerIdleFactor × the visibility timeout is how long a consumer
// that holds nothing may stay idle before the reclaim pass deletes it.
const consumerIdleFactor = 4

// tidy trims what the group has acknowledged from its stream and deletes
// consumers of dead processes (see lua/tidy.lua); run by the reclaim pass.
func (s *redisSub) tidy(ctx context.Context) {
	idle := consumerIdleFactor * s.b.cfg.visibility
	err := s.b.bound().Eval(ctx, s.b.client, tidyScript, []string{s.stream},
		[]any{s.group, s.consumer, idle.Milliseconds()}, nil).Err()
	if err != nil {
		s.b.stats.errors.Add(1)
	}
}

// dispatch queues entries for the workers; false when stopping. The
// entries not started by then (the rest of a batch, or all of a read that
// returned after the stop) are handed back at once, in one call, for
// another consumer to take without waiting for the visibility timeout.
func (s *redisSub) dispatch(es []entry) bool {
	for i, e := range es {
		if s.stopped() { // preferred to a free worker: stopping starts nothing new
			s.handBackEntries(es[i:], false)
			return false
		}
		select {
		case s.work <- e:
		case <-s.stop:
			s.handBackEntries(es[i:], false)
			return false
		}
	}
	return true
}

// takeQueued takes the entries queued for the workers, without waiting.
func (s *redisSub) takeQueued() []entry {
	var es []entry
	for {
		select {
		case e, ok := <-s.work:
			if !ok {
				return es
			}
			es = append(es, e)
		default:
			return es
		}
	}
}

// claim runs the claim script in mode own, dead, lost or retry. Modes
// dead and lost leave alone the entries this consumer holds when the call
// is sent: entries are added to held only by the reader, which is the
// caller, so an entry missing from that list when the script runs is not
// being handled here (one released meanwhile was acknowledged, or handed
// back, or its settling failed and it is due again). Were the list taken
// when the reply came, an entry acknowledged while the call was under way
// could come back in it, no longer held, and be handled a second time.
// A call that go-redis sends again (a Cluster re-sending a timed-out
// command) runs with the same list, and only its last reply is seen.
func (s *redisSub) claim(ctx context.Context, mode, cursor string) (string, []entry, error) {
	args := []any{s.group, s.consumer, mode, cursor, s.b.cfg.visibility.Milliseconds(), s.b.cfg.batch}
	if mode == "dead" || mode == "lost" {
		args = s.appendHeld(args)
	}
	res, err := s.b.bound().Eval(ctx, s.b.client, claimScript, []string{s.stream}, args, nil).Slice()
	if err != nil {
		return cursor, nil, err
	}
	if len(res) == 0 {
		return cursor, nil, errors.New("pubsub: malformed claim reply")
	}
	next, _ := res[0].(string)
	return next, claimedEntries(res), nil
}

// claimedEntries reads the entries of a claim reply ({cursor, {id,
// fields, deliveries}, …}), skipping any element of another shape.
func claimedEntries(res []any) []entry {
	if len(res) < 2 {
		return nil
	}
	es := make([]entry, 0, len(res)-1)
	for _, r := range res[1:] {
		t, ok := r.([]any)
		if !ok || len(t) != 3 {
			continue
		}
		id, _ := t[0].(string)
		fields, ok := t[1].([]any)
		n, _ := t[2].(int64)
		if id == "" || !ok {
			continue // not what claim.lua returns; pending still, recovered by a later pass
		}
		es = append(es, entry{id: id, fields: fields, attempt: max(int(n), 1)})
	}
	return es
}
