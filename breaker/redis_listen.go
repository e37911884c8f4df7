package breaker

import (
	"context"
	"errors"
	"net"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// live drops the pointers to breakers that are gone.
func live(ps []weak.Pointer[Breaker]) []weak.Pointer[Breaker] {
	out := ps[:0]
	for _, p := range ps {
		if p.Value() != nil {
			out = append(out, p)
		}
	}
	return out
}

// listen applies the published changes to the subscribed breakers. Once
// (re)subscribed it re-reads every breaker's shared state, since changes
// may have been published before the subscription was in place; while the
// subscription is broken, it makes every breaker re-read on its next call.
func (s *RedisStore) listen(ctx context.Context) {
	defer close(s.done)
	backoff := 10 * time.Millisecond
	subscribed := false
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, 5*time.Second)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = s.ps.Ping(ctx) // a dead connection fails here and is replaced
				continue
			}
			s.each("", func(b *Breaker) { b.link.resync() })
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: changes published before now were missed.
			s.each("", func(b *Breaker) { b.link.refresh(ctx, b) })
			if !subscribed {
				subscribed = true
				close(s.ready)
			}
		case *redis.Message:
			name, sh, ok := parsePush(m.Payload)
			if ok {
				s.each(name, func(b *Breaker) { b.adopt(sh, b.nowNS()) })
			}
		}
	}
}

// each calls fn for every live breaker of name ("" for all, dropping the
// entries of breakers that are gone), outside s.mu.
func (s *RedisStore) each(name string, fn func(*Breaker)) {
	var bs []*Breaker
	s.mu.Lock()
	for n, ps := range s.subs {
		if name != "" && n != name {
			continue
		}
		if name == "" {
			if ps = live(ps); len(ps) == 0 {
				delete(s.subs, n)
				continue
			}
			s.subs[n] = ps
		}
		for _, p := range ps {
			if b := p.Value(); b != nil {
				bs = append(bs, b)
			}
		}
	}
	s.mu.Unlock()
	for _, b := range bs {
		fn(b)
	}
}
