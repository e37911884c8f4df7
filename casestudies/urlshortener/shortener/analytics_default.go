package shortener

import (
	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// defaultAnalytics builds the analytics Config.Analytics left out, on the
// service's event store: clicks travel on a pubsub bus (in memory, or a
// durable Redis bus shared by the fleet) and become events next to the
// links' lifecycle. The bus is the Server's to close, after analytics has
// flushed into it.
func (s *Server) defaultAnalytics() (Analytics, error) {
	var bus pubsub.Bus
	if s.cfg.Redis != nil {
		rb, err := pubsub.NewRedis(s.cfg.Redis, pubsub.WithPrefix(s.cfg.Prefix+"bus:"), pubsub.WithLogger(s.cfg.Logger))
		if err != nil {
			return nil, err
		}
		bus = rb
	} else {
		bus = pubsub.NewMemory(pubsub.WithLogger(s.cfg.Logger))
	}
	a, err := analytics.New(analytics.Config{
		Bus: bus, Store: s.be.store, Redis: s.cfg.Redis, Prefix: s.cfg.Prefix + "analytics:",
		Clock: s.cfg.Clock, Logger: s.cfg.Logger, Reset: resetStats,
	})
	if err != nil {
		_ = bus.Close()
		return nil, err
	}
	s.bus = bus
	return a, nil
}

// resetStats tells analytics which events end a code's statistics: its
// link created (an alias reused after a delete starts from zero) or
// deleted (the statistics of a link that is gone are dropped). A pure
// function of the event, as Config.Reset requires.
func resetStats(e cqrs.Event) (string, bool) {
	if e.Type != EventLinkCreated && e.Type != EventLinkDeleted {
		return "", false
	}
	var ref codeRef
	if err := e.Decode(&ref); err != nil || ref.Code == "" {
		return "", false
	}
	return ref.Code, true
}
