package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Count is one bucket of a statistic.
type Count struct {
	Key string
	N   int64
}

// Stats are one link's click statistics. Bots are kept apart: Total,
// Referrers, Days, Hours and Browsers count human clicks only.
type Stats struct {
	Code      string
	Total     int64   // human clicks
	Bots      int64   // clicks whose user agent is a bot (see IsBot), kept apart from Total
	Referrers []Count // by referrer host (DirectReferrer for none), most first
	Days      []Count // DayLayout (UTC), oldest first
	Hours     []Count // HourLayout (UTC), oldest first, the last HoursKept hours
	Lag       int64   // clicks recorded and events stored but not yet projected
	// Browsers counts human clicks per browser family (see Browser): the
	// statistic added after launch. Nil until it is enabled (Config.Browsers
	// or EnableBrowsers).
	Browsers []Count
	// BrowsersPartial is true when Browsers misses clicks projected before
	// the statistic was enabled: Rebuild backfills them from the history.
	BrowsersPartial bool
}

// Stats returns the statistics of code (zero counts for a code never
// clicked) as the projection has them now, with its lag.
func (a *Analytics) Stats(ctx context.Context, code string) (Stats, error) {
	if err := validateCode(code); err != nil {
		return Stats{}, err
	}
	v, _, err := a.model.Get(ctx, code)
	if err != nil {
		return Stats{}, fmt.Errorf("analytics: reading the statistics of %q: %w", code, err)
	}
	lag, err := a.Lag(ctx)
	if err != nil {
		return Stats{}, err
	}
	now := a.now().UTC().Truncate(time.Hour)
	firstHour := now.Add(-(HoursKept - 1) * time.Hour).Format(HourLayout)
	s := Stats{
		Code:      code,
		Total:     v.Total,
		Bots:      v.Bots,
		Referrers: mostFirst(v.Referrers),
		Days:      oldestFirst(v.Days, ""),
		Hours:     oldestFirst(v.Hours, firstHour),
		Lag:       lag,
	}
	if a.browsers.Load() {
		s.Browsers = mostFirst(v.Browsers)
		if s.Browsers == nil {
			s.Browsers = []Count{}
		}
		s.BrowsersPartial = v.BrowsersPartial
	}
	return s, nil
}

// mostFirst sorts by count, most first, then by key.
func mostFirst(m map[string]int64) []Count {
	out := toCounts(m, "")
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// oldestFirst sorts time keys (which sort as strings) and leaves out those
// before from.
func oldestFirst(m map[string]int64, from string) []Count {
	out := toCounts(m, from)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func toCounts(m map[string]int64, from string) []Count {
	if len(m) == 0 {
		return nil
	}
	out := make([]Count, 0, len(m))
	for k, n := range m {
		if k >= from {
			out = append(out, Count{Key: k, N: n})
		}
	}
	return out
}
