package cqrs

import (
	"context"
	"fmt"
	"strings"
)

// EventFilter selects the events a Runner hands its projection
// (WithEventFilter). An event passes when its Type is one of Types (none:
// any type) and its StreamID starts with one of StreamPrefixes (none: any
// stream).
type EventFilter struct {
	Types          []string
	StreamPrefixes []string
}

// match reports whether e passes the filter.
func (f *EventFilter) match(e *Event) bool {
	if len(f.Types) > 0 && !contains(f.Types, e.Type) {
		return false
	}
	if len(f.StreamPrefixes) == 0 {
		return true
	}
	for _, p := range f.StreamPrefixes {
		if strings.HasPrefix(e.StreamID, p) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WithEventFilter makes the Runner hand its projection only the events
// that pass f, while the projection's checkpoint still moves past every
// event read: a link table that ignores click events is neither shown nor
// made to decode them. What it saves is the decode and apply of the events
// filtered out, not their read: the global log is one sequence, which the
// stores read in batches of positions (neither MemoryStore nor RedisStore
// can filter server-side), so a Runner still reads every event and its
// checkpoint moves batch by batch. The projection must be a RangeApplier
// (MemoryReadModel, RedisReadModel), which can move its checkpoint past
// events it is not given; any other projection, or a filter that selects
// nothing (an empty type or prefix), is an error wrapping
// ErrInvalidConfig from NewRunner.
func WithEventFilter(f EventFilter) RunnerOption {
	return runnerOption(func(c *runnerConfig) error {
		if len(f.Types) == 0 && len(f.StreamPrefixes) == 0 {
			return fmt.Errorf("%w: WithEventFilter: no types and no stream prefixes (a filter that passes everything)", ErrInvalidConfig)
		}
		for _, t := range f.Types {
			if t == "" {
				return fmt.Errorf("%w: WithEventFilter: an empty type", ErrInvalidConfig)
			}
		}
		// An empty prefix would pass every stream: almost surely a mistake.
		for _, p := range f.StreamPrefixes {
			if p == "" {
				return fmt.Errorf("%w: WithEventFilter: an empty stream prefix", ErrInvalidConfig)
			}
		}
		f := EventFilter{Types: append([]string(nil), f.Types...), StreamPrefixes: append([]string(nil), f.StreamPrefixes...)}
		c.filter = &f
		return nil
	})
}

// applyTo applies a batch read from the log (consecutive events) to p, a
// projection or a build: filtered, when the runner has a filter and p can
// take a filtered batch; whole otherwise.
func (r *Runner) applyTo(ctx context.Context, p interface {
	Apply(context.Context, []Event) error
}, evs []Event) error {
	ra, ok := p.(RangeApplier)
	if r.cfg.filter == nil || !ok || len(evs) == 0 {
		return p.Apply(ctx, evs)
	}
	kept := make([]Event, 0, len(evs))
	for i := range evs {
		if r.cfg.filter.match(&evs[i]) {
			kept = append(kept, evs[i])
		}
	}
	r.filtered.Add(uint64(len(evs) - len(kept)))
	from, through := batchRange(evs)
	return ra.ApplyRange(ctx, from, through, kept)
}
