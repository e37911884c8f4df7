package notify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Preferences are a user's delivery preferences.
type Preferences struct {
	// OptOut lists the channels the user receives nothing on.
	OptOut []string `json:"opt_out"`
	// QuietHours, if set, defers non-critical deliveries while they last.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
}

// QuietHours is a daily period, in the user's time zone, during which
// non-critical deliveries wait (they are deferred to its end, never
// dropped). From after To wraps midnight: 22:00–07:00.
type QuietHours struct {
	From string `json:"from"` // "HH:MM", inclusive
	To   string `json:"to"`   // "HH:MM", exclusive
	TZ   string `json:"tz"`   // IANA name, "Europe/Berlin"
}

// optedOut reports whether p opts out of channel.
func (p Preferences) optedOut(channel string) bool { return slices.Contains(p.OptOut, channel) }

// quietUntil returns the end of the quiet period now falls in, if it does.
// A time zone that cannot be loaded any more (it was valid when stored)
// counts as UTC, so a delivery is never held forever.
func (q *QuietHours) quietUntil(now time.Time) (time.Time, bool) {
	if q == nil {
		return time.Time{}, false
	}
	from, err1 := parseClock(q.From)
	to, err2 := parseClock(q.To)
	if err1 != nil || err2 != nil || from == to {
		return time.Time{}, false
	}
	loc, err := time.LoadLocation(q.TZ)
	if err != nil {
		loc = time.UTC
	}
	local := now.In(loc)
	minute := local.Hour()*60 + local.Minute()
	var quiet bool
	if from < to {
		quiet = minute >= from && minute < to
	} else {
		quiet = minute >= from || minute < to
	}
	if !quiet {
		return time.Time{}, false
	}
	// time.Date normalises a wall time that a DST change skips or repeats.
	end := time.Date(local.Year(), local.Month(), local.Day(), to/60, to%60, 0, 0, loc)
	if !end.After(now) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, to/60, to%60, 0, 0, loc)
	}
	return end, true
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// validate checks p against the service's channels; the error names the field.
func (p Preferences) validate(known map[string]bool) *fieldError {
	for i, ch := range p.OptOut {
		if !known[ch] {
			return &fieldError{Field: fmt.Sprintf("opt_out[%d]", i), Message: fmt.Sprintf("unknown channel %q", ch)}
		}
	}
	if q := p.QuietHours; q != nil {
		if _, err := parseClock(q.From); err != nil {
			return &fieldError{Field: "quiet_hours.from", Message: err.Error()}
		}
		if _, err := parseClock(q.To); err != nil {
			return &fieldError{Field: "quiet_hours.to", Message: err.Error()}
		}
		if q.From == q.To {
			return &fieldError{Field: "quiet_hours.to", Message: "equals from: an empty period"}
		}
		if q.TZ == "" {
			return &fieldError{Field: "quiet_hours.tz", Message: "required (an IANA time zone such as Europe/Berlin)"}
		}
		if _, err := time.LoadLocation(q.TZ); err != nil {
			return &fieldError{Field: "quiet_hours.tz", Message: fmt.Sprintf("unknown time zone %q", q.TZ)}
		}
	}
	return nil
}

// prefStore is the source of truth for preferences; reads go through a
// cache in front of it.
type prefStore interface {
	get(ctx context.Context, userID string) (Preferences, error)
	put(ctx context.Context, userID string, p Preferences) error
}

// memoryPrefs keeps preferences in this process: one entry per user who
// set any, for the life of the process.
type memoryPrefs struct {
	mu sync.Mutex
	m  map[string]Preferences
}

func newMemoryPrefs() *memoryPrefs { return &memoryPrefs{m: make(map[string]Preferences)} }

func (s *memoryPrefs) get(_ context.Context, userID string) (Preferences, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[userID], nil
}

func (s *memoryPrefs) put(_ context.Context, userID string, p Preferences) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[userID] = p
	return nil
}

// normalised returns p with an empty opt-out list rather than none, and no
// duplicates, so the JSON is the same however it was written.
func (p Preferences) normalised() Preferences {
	out := slices.Clone(p.OptOut)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	p.OptOut = slices.Compact(out)
	return p
}
