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

// read feeds the workers until stop, then closes work.
func (s *redisSub) read() {
	defer s.wg.Done()
	defer close(s.work)
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
	for !s.stopped() {
		if time.Since(lastReclaim) >= s.reclaimEvery() {
			next, es, err := s.claim(ctx, "dead", cursor)
			if err != nil {
				b.callFailed(err)
			} else {
				cursor = next
				s.reclaimed(es)
				s.hold(es)
				if !s.dispatch(es) {
					return
				}
				if cursor == "0-0" {
					lastReclaim = time.Now()
					s.tidy(ctx)
				}
			}
		}
		res, err := redisx.Do(ctx, b.readBound, func(ctx context.Context) ([]redis.XStream, error) {
			return b.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer,
				Streams: []string{s.stream, ">"}, Count: int64(b.cfg.batch), Block: b.cfg.readBlock}).Result()
		})
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
		for _, st := range res {
			es := make([]entry, len(st.Messages))
			for i, xm := range st.Messages {
				es[i] = entry{id: xm.ID, get: mapGetter(xm.Values), attempt: 1}
			}
			s.hold(es)
			if !s.dispatch(es) {
				return
			}
		}
	}
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

func mapGetter(v map[string]any) func(string) (string, bool) {
	return func(k string) (string, bool) {
		x, ok := v[k]
		if !ok {
			return "", false
		}
		str, ok := x.(string)
		return str, ok
	}
}

func listGetter(v []any) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(v); i += 2 {
			if f, _ := v[i].(string); f == k {
				str, ok := v[i+1].(string)
				return str, ok
			}
		}
		return "", false
	}
}

// dispatch hands entries to the workers one by one; false when stopping
// (the rest stay pending in Redis).
func (s *redisSub) dispatch(es []entry) bool {
	for _, e := range es {
		select {
		case s.work <- e:
		case <-s.stop:
			return false
		}
	}
	return true
}

// claim runs the claim script in mode own, dead or retry.
func (s *redisSub) claim(ctx context.Context, mode, cursor string) (string, []entry, error) {
	res, err := s.b.bound().Eval(ctx, s.b.client, claimScript, []string{s.stream},
		[]any{s.group, s.consumer, mode, cursor, s.b.cfg.visibility.Milliseconds(), s.b.cfg.batch}, nil).Slice()
	if err != nil {
		return cursor, nil, err
	}
	if len(res) == 0 {
		return cursor, nil, errors.New("pubsub: malformed claim reply")
	}
	next, _ := res[0].(string)
	es := make([]entry, 0, len(res)-1)
	for _, r := range res[1:] {
		t, ok := r.([]any)
		if !ok || len(t) != 3 {
			continue
		}
		id, _ := t[0].(string)
		fields, _ := t[1].([]any)
		n, _ := t[2].(int64)
		es = append(es, entry{id: id, get: listGetter(fields), attempt: int(n)})
	}
	return next, es, nil
}
