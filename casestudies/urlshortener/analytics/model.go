package analytics

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/cqrs"
)

// EventClicked is the type of the single-click events stored before
// batching (see EventClicks): still projected, no longer written.
const EventClicked = "urlshortener.clicked"

// Bounds of one link's statistics in the read model, so that a link
// clicked for years, or from a million sites, stays one small value.
const (
	// MaxDays is how many days of per-day counts are kept (the oldest go).
	MaxDays = 400
	// HoursKept is how many hours of per-hour counts are kept, back from
	// a link's latest click.
	HoursKept = 48
	// MaxReferrers is how many referrer hosts are counted apart; the
	// clicks of further hosts are counted under OtherReferrers.
	MaxReferrers = 200
	// DirectReferrer counts clicks without a (usable) referrer.
	DirectReferrer = "direct"
	// OtherReferrers counts the clicks of hosts past MaxReferrers.
	OtherReferrers = "other"
)

// Layouts of the day and hour keys (UTC).
const (
	DayLayout  = "2006-01-02"
	HourLayout = "2006-01-02T15"
)

// linkStats is one link's entry in the read model.
type linkStats struct {
	Total     int64            `json:"total"`
	Bots      int64            `json:"bots"`
	Referrers map[string]int64 `json:"referrers,omitempty"`
	Days      map[string]int64 `json:"days,omitempty"`
	Hours     map[string]int64 `json:"hours,omitempty"`
	// Browsers is the statistic added later (see Analytics.EnableBrowsers):
	// present only while the projection counts it.
	Browsers map[string]int64 `json:"browsers,omitempty"`
	// BrowsersPartial: browsers were counted only from some click on,
	// the clicks before it were projected when nobody counted them.
	BrowsersPartial bool `json:"browsers_partial,omitempty"`
}

// readModel is what the analytics needs of a cqrs read model: both the
// memory and the Redis one fit.
type readModel interface {
	cqrs.Rebuilder
	Get(ctx context.Context, key string) (linkStats, bool, error)
}

// projector applies click events to the read model. browsers is read per
// event, so turning the statistic on takes effect at the next event.
type projector struct {
	browsers *atomic.Bool
	reset    func(cqrs.Event) (string, bool)
}

// apply is the read model's cqrs.ModelHandler: a batch (EventClicks) is
// one read and one write of its link's entry, however many clicks it
// counts; single clicks (EventClicked, written before batching) are still
// counted, so a history holding both rebuilds.
func (p projector) apply(ctx context.Context, tx *cqrs.Tx[linkStats], e cqrs.Event) error {
	var b clickBatch
	switch e.Type {
	case EventClicks:
		if err := e.Decode(&b); err != nil || b.Code == "" {
			// A malformed event cannot become valid by retrying; holding
			// the projection back for it would stop every statistic.
			return nil
		}
	case EventClicked:
		var r clickRecord
		if err := e.Decode(&r); err != nil || r.Code == "" {
			return nil
		}
		b = clickBatch{Code: r.Code, Groups: []clickGroup{{At: r.At, Host: r.Host, UserAgent: r.UserAgent, N: 1}}}
	default:
		// The links' lifecycle shares the store.
		if p.reset != nil {
			if code, ok := p.reset(e); ok && code != "" {
				tx.Delete(code)
			}
		}
		return nil
	}
	cur, _, err := tx.Get(ctx, b.Code)
	if err != nil {
		return err
	}
	next := cur.clone()
	countBrowsers := p.browsers.Load()
	for _, g := range b.Groups {
		if g.N > 0 {
			next.add(g, countBrowsers)
		}
	}
	tx.Put(b.Code, next)
	return nil
}

// add counts g.N clicks alike.
func (s *linkStats) add(g clickGroup, countBrowsers bool) {
	if IsBot(g.UserAgent) {
		s.Bots += g.N
		return
	}
	if countBrowsers {
		if s.Browsers == nil && s.Total > 0 {
			s.BrowsersPartial = true
		}
		s.Browsers = inc(s.Browsers, Browser(g.UserAgent), g.N)
	}
	s.Total += g.N
	host := g.Host
	if host == "" {
		host = DirectReferrer
	}
	if _, known := s.Referrers[host]; !known && len(s.Referrers) >= MaxReferrers {
		host = OtherReferrers
	}
	s.Referrers = inc(s.Referrers, host, g.N)
	s.Days = inc(s.Days, g.At.UTC().Format(DayLayout), g.N)
	dropOldest(s.Days, MaxDays)
	hour := g.At.UTC().Truncate(time.Hour)
	s.Hours = inc(s.Hours, hour.Format(HourLayout), g.N)
	dropBefore(s.Hours, hour.Add(-(HoursKept-1)*time.Hour).Format(HourLayout))
}

func inc(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = make(map[string]int64)
	}
	m[k] += n
	return m
}

// dropOldest keeps the n greatest keys (day keys sort by time).
func dropOldest(m map[string]int64, n int) {
	if len(m) <= n {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys[:len(keys)-n] {
		delete(m, k)
	}
}

// dropBefore deletes the keys that sort before first.
func dropBefore(m map[string]int64, first string) {
	for k := range m {
		if k < first {
			delete(m, k)
		}
	}
}

// clone copies s deeply: the memory read model hands out its stored value,
// which readers may be looking at.
func (s linkStats) clone() linkStats {
	c := s
	c.Referrers = cloneMap(s.Referrers)
	c.Days = cloneMap(s.Days)
	c.Hours = cloneMap(s.Hours)
	c.Browsers = cloneMap(s.Browsers)
	return c
}

func cloneMap(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
