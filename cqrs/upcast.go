package cqrs

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// Upcaster turns an event of one schema version of its type into the
// next version: it rewrites Data (and may rename Type). It gets a copy of
// the event with a Metadata map of its own and must not modify e.Data in
// place.
type Upcaster func(e Event) (Event, error)

// Upcasters is a registry of upcasters keyed by (event type, schema
// version). The schema version of an event is Metadata[MetaSchema] (absent:
// 1). Upcast applies the upcaster for (type, v), which yields version v+1
// of the type — or, when it renames the type, version 1 of the new type —
// then the one registered for that, and so on until none is: the event
// comes out at the latest schema, and handlers and aggregates only ever
// see that one. (A renaming upcaster thus turns old events into what the
// code now writes under the new name, and the new type's own upcasters,
// starting at 1, apply to both.)
//
// Register every upcaster before the registry is used; it is safe for
// concurrent use after that (and Register is safe too, but events read
// before it are not upcast again).
type Upcasters struct {
	mu     sync.RWMutex
	fns    map[upKey]Upcaster
	latest map[string]int
}

type upKey struct {
	typ    string
	schema int
}

// NewUpcasters returns an empty registry.
func NewUpcasters() *Upcasters {
	return &Upcasters{fns: make(map[upKey]Upcaster), latest: make(map[string]int)}
}

// Register adds the upcaster of events of eventType at schema version
// fromSchema (≥ 1) to fromSchema+1 (or, if it renames the type, to version
// 1 of the new type). Registering a second one for the same
// pair is an error wrapping ErrInvalidConfig. Upcasters may be registered
// in any order; a type's chain must in the end start at 1 and have no
// gaps (1→2, 2→3, …), which Validate checks and NewUpcastingStore
// requires.
func (u *Upcasters) Register(eventType string, fromSchema int, fn Upcaster) error {
	switch {
	case eventType == "":
		return fmt.Errorf("%w: Upcasters.Register: empty event type", ErrInvalidConfig)
	case fromSchema < 1:
		return fmt.Errorf("%w: Upcasters.Register(%q, %d): schema versions start at 1", ErrInvalidConfig, eventType, fromSchema)
	case fn == nil:
		return fmt.Errorf("%w: Upcasters.Register(%q, %d): nil upcaster", ErrInvalidConfig, eventType, fromSchema)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	k := upKey{eventType, fromSchema}
	if _, dup := u.fns[k]; dup {
		return fmt.Errorf("%w: Upcasters.Register(%q, %d): registered twice", ErrInvalidConfig, eventType, fromSchema)
	}
	u.fns[k] = fn
	if fromSchema+1 > u.latest[eventType] {
		u.latest[eventType] = fromSchema + 1
	}
	return nil
}

// Validate reports, wrapping ErrInvalidConfig, an event type whose
// upcasters do not form a chain from schema version 1 without gaps:
// events stop at the first missing step, so a chain 1→2, 3→4 would leave
// version-1 events at 2 while Latest says 4.
func (u *Upcasters) Validate() error {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for typ, latest := range u.latest {
		for v := 1; v < latest; v++ {
			if _, ok := u.fns[upKey{typ, v}]; !ok {
				return fmt.Errorf("%w: upcasters of %q: none from schema %d, but one from %d", ErrInvalidConfig, typ, v, latest-1)
			}
		}
	}
	return nil
}

// Latest returns the latest schema version of eventType: one more than the
// highest version an upcaster of it starts from, or 1. (For a type whose
// last upcaster renames it the number means nothing: the code writes the
// new type.)
func (u *Upcasters) Latest(eventType string) int {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if v := u.latest[eventType]; v > 1 {
		return v
	}
	return 1
}

// Upcast returns e at the latest schema version of its type (e itself
// when no upcaster applies). Errors wrap ErrUpcast.
func (u *Upcasters) Upcast(e Event) (Event, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if len(u.fns) == 0 {
		return e, nil
	}
	v := e.Schema()
	if v == 0 {
		return e, fmt.Errorf("%w: %s event %s@%d: %s %q is not a positive integer", ErrUpcast, e.Type, e.StreamID, e.Version, MetaSchema, e.Metadata[MetaSchema])
	}
	for steps := 0; ; steps++ {
		fn := u.fns[upKey{e.Type, v}]
		if fn == nil {
			return e, nil
		}
		if steps == maxUpcasts {
			return e, fmt.Errorf("%w: %s event %s@%d: more than %d upcasts (do renames go round in a circle?)", ErrUpcast, e.Type, e.StreamID, e.Version, maxUpcasts)
		}
		in := e
		in.Metadata = cloneMeta(e.Metadata)
		out, err := fn(in)
		if err != nil {
			return e, fmt.Errorf("%w: %s event %s@%d from schema %d: %w", ErrUpcast, e.Type, e.StreamID, e.Version, v, err)
		}
		if out.Type == "" {
			return e, fmt.Errorf("%w: %s event %s@%d from schema %d: upcaster returned no type", ErrUpcast, e.Type, e.StreamID, e.Version, v)
		}
		// What the store assigned is not the upcaster's to change.
		out.StreamID, out.Version, out.Position, out.RecordedAt = e.StreamID, e.Version, e.Position, e.RecordedAt
		if out.Type == e.Type {
			v++
			e = out.WithMeta(MetaSchema, strconv.Itoa(v))
			continue
		}
		v = 1 // renamed: the first version of the new type
		out.Metadata = cloneMeta(out.Metadata)
		delete(out.Metadata, MetaSchema)
		if len(out.Metadata) == 0 {
			out.Metadata = nil
		}
		e = out
	}
}

// maxUpcasts bounds the upcasts of one event.
const maxUpcasts = 100

// UpcastingStore wraps an EventStore so that Load and ReadAll return
// every event upcast to the latest schema of its type, and Append stamps
// the latest schema version (MetaSchema) on events that carry none, so
// that they are not taken for version 1 once an upcaster of their type is
// registered. Give it to a Repository and a Runner in place of the store.
type UpcastingStore struct {
	store EventStore
	up    *Upcasters
}

var (
	_ EventStore = (*UpcastingStore)(nil)
	_ Header     = (*UpcastingStore)(nil)

	_ PositionAppender = (*UpcastingStore)(nil)
	_ BatchAppender    = (*UpcastingStore)(nil)
)

// NewUpcastingStore wraps store with the upcasters of up, which must
// pass Validate (errors wrap ErrInvalidConfig).
func NewUpcastingStore(store EventStore, up *Upcasters) (*UpcastingStore, error) {
	if store == nil || up == nil {
		return nil, fmt.Errorf("%w: NewUpcastingStore: nil store or upcasters", ErrInvalidConfig)
	}
	if err := up.Validate(); err != nil {
		return nil, fmt.Errorf("NewUpcastingStore: %w", err)
	}
	return &UpcastingStore{store: store, up: up}, nil
}

// Append implements EventStore.
func (s *UpcastingStore) Append(ctx context.Context, streamID string, expected int64, events ...Event) (int64, error) {
	return s.store.Append(ctx, streamID, expected, s.stamp(events)...)
}

// AppendWithPosition implements PositionAppender, through the wrapped
// store's when it has one (else with one read more: see the function
// AppendWithPosition).
func (s *UpcastingStore) AppendWithPosition(ctx context.Context, streamID string, expected int64, events ...Event) (Appended, error) {
	return AppendWithPosition(ctx, s.store, streamID, expected, s.stamp(events)...)
}

// AppendBatch implements BatchAppender, with the latest schema versions
// stamped as Append stamps them, through the wrapped store's AppendBatch
// when it has one (else one append per item: see the function
// AppendBatch).
func (s *UpcastingStore) AppendBatch(ctx context.Context, batch []StreamAppend) ([]AppendResult, error) {
	stamped := batch
	for i := range batch {
		evs := s.stamp(batch[i].Events)
		if len(evs) > 0 && &evs[0] != &batch[i].Events[0] {
			if &stamped[0] == &batch[0] {
				stamped = append([]StreamAppend(nil), batch...)
			}
			stamped[i].Events = evs
		}
	}
	return AppendBatch(ctx, s.store, stamped)
}

// stamp returns events with the latest schema version stamped on those
// that carry none and have upcasters (a copy, when any needs it).
func (s *UpcastingStore) stamp(events []Event) []Event {
	var stamped []Event
	for i := range events {
		if _, ok := events[i].Metadata[MetaSchema]; ok {
			continue
		}
		if v := s.up.Latest(events[i].Type); v > 1 {
			if stamped == nil {
				stamped = append([]Event(nil), events...)
			}
			stamped[i] = events[i].WithMeta(MetaSchema, strconv.Itoa(v))
		}
	}
	if stamped != nil {
		return stamped
	}
	return events
}

// Load implements EventStore.
func (s *UpcastingStore) Load(ctx context.Context, streamID string, fromVersion int64) ([]Event, error) {
	evs, err := s.store.Load(ctx, streamID, fromVersion)
	if err != nil {
		return nil, err
	}
	return s.upcast(evs)
}

// ReadAll implements EventStore.
func (s *UpcastingStore) ReadAll(ctx context.Context, fromPosition int64, limit int) ([]Event, error) {
	evs, err := s.store.ReadAll(ctx, fromPosition, limit)
	if err != nil {
		return nil, err
	}
	return s.upcast(evs)
}

func (s *UpcastingStore) upcast(evs []Event) ([]Event, error) {
	for i := range evs {
		var err error
		if evs[i], err = s.up.Upcast(evs[i]); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

// Unwrap returns the wrapped store. A Runner looks through it for a
// Waiter, to follow the log without polling.
func (s *UpcastingStore) Unwrap() EventStore { return s.store }

// Head implements Header when the wrapped store does; otherwise it
// returns an error wrapping ErrInvalidArgument.
func (s *UpcastingStore) Head(ctx context.Context) (int64, error) {
	if h, ok := s.store.(Header); ok {
		return h.Head(ctx)
	}
	return 0, fmt.Errorf("%w: the wrapped store has no Head", ErrInvalidArgument)
}
