package breaker

import (
	"weak"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
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

// listen starts the store's one subscription: pushed changes are applied
// to the subscribed breakers. Pub/sub loses what is published while the
// subscription is down, so every breaker re-reads its circuit each time
// the subscription is (re)established, and re-reads on its next call while
// it is down. redisx.Listen replaces a subscription that stops answering,
// which go-redis alone would wait on forever.
func (s *RedisStore) listen() *redisx.Listener {
	return redisx.Listen(s.c, redisx.ListenConfig{
		Channels: []string{s.channel},
		Health:   s.health,
		OnMessage: func(m *redis.Message) {
			if name, sh, ok := parsePush(m.Payload); ok {
				s.each(name, func(b *Breaker) { b.adopt(sh, b.nowNS()) })
			}
		},
		OnLive: func() { s.each("", func(b *Breaker) { b.link.refresh(s.closing, b) }) },
		OnLost: func(error) { s.each("", func(b *Breaker) { b.link.resync() }) },
	})
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
