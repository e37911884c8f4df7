package cqrs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is a fact that happened to one stream (one aggregate), as stored.
// Append takes StreamID (optional: the stream appended to), Type, Data and
// Metadata from the caller; the store assigns Version, Position and
// RecordedAt, ignoring whatever the caller put there.
type Event struct {
	// StreamID names the stream the event belongs to.
	StreamID string
	// Type names what happened ("Deposited"); it selects how Data is read
	// and which upcasters apply. Required.
	Type string
	// Version is the event's number within its stream: 1, 2, 3, …
	Version int64
	// Position is the event's number in the store's global order: 1, 2,
	// 3, … with no gaps.
	Position int64
	// Data is the event's payload, JSON (empty: none). Events a store
	// returns share Data with the store: do not modify it.
	Data json.RawMessage
	// Metadata carries what is about the event rather than of it
	// (correlation ids, user, …) and two keys of this package: MetaEventID
	// and MetaSchema.
	Metadata map[string]string
	// RecordedAt is when the store appended the event (the Redis server's
	// clock on Redis, microsecond precision).
	RecordedAt time.Time
}

// Special expected versions for Append. Any other expected version is the
// exact version the stream must be at (0, NoStream, being "no events").
const (
	// AnyVersion appends whatever the stream's version.
	AnyVersion int64 = -1
	// NoStream appends only to a stream that has no events yet.
	NoStream int64 = 0
	// StreamExists appends only to a stream that has at least one event.
	StreamExists int64 = -2
)

// Metadata keys with a meaning to this package.
const (
	// MetaEventID holds an event's id: an event whose id is already in its
	// stream is not appended again (see EventStore.Append). Set it with
	// WithID.
	MetaEventID = "event-id"
	// MetaSchema holds the schema version of an event's Data, a positive
	// integer; absent means 1. Upcasters (see Upcasters) turn old schema
	// versions into the current one on load, and UpcastingStore stamps the
	// current version on what it appends.
	MetaSchema = "schema"
)

// NewEvent returns an event of type eventType whose Data is data as JSON.
func NewEvent(eventType string, data any) (Event, error) {
	if eventType == "" {
		return Event{}, fmt.Errorf("%w: empty event type", ErrInvalidArgument)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("cqrs: encoding %s: %w", eventType, err)
	}
	return Event{Type: eventType, Data: b}, nil
}

// MustEvent is NewEvent for data that always encodes (structs of plain
// fields); it panics on an encoding error.
func MustEvent(eventType string, data any) Event {
	e, err := NewEvent(eventType, data)
	if err != nil {
		panic(err)
	}
	return e
}

// Decode unmarshals the event's Data into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("cqrs: decoding %s event %s@%d: %w", e.Type, e.StreamID, e.Version, err)
	}
	return nil
}

// ID returns the event's id (Metadata[MetaEventID]), "" when it has none.
func (e Event) ID() string { return e.Metadata[MetaEventID] }

// WithID returns a copy of e with id as its event id. The copy has a
// Metadata map of its own.
func (e Event) WithID(id string) Event { return e.WithMeta(MetaEventID, id) }

// WithMeta returns a copy of e with Metadata[key] = value. The copy has a
// Metadata map of its own.
func (e Event) WithMeta(key, value string) Event {
	m := make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		m[k] = v
	}
	m[key] = value
	e.Metadata = m
	return e
}

// Schema returns the schema version of the event's Data: Metadata[MetaSchema],
// or 1 when absent. It is 0 when the metadata is not a positive integer
// (Append refuses such events).
func (e Event) Schema() int {
	s, ok := e.Metadata[MetaSchema]
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// checkAppend validates the arguments of an Append, the same for every
// store.
func checkAppend(streamID string, expected int64, events []Event) error {
	if streamID == "" {
		return fmt.Errorf("%w: empty stream id", ErrInvalidArgument)
	}
	if expected < StreamExists {
		return fmt.Errorf("%w: expected version %d (want a version ≥ 0, AnyVersion or StreamExists)", ErrInvalidArgument, expected)
	}
	var ids map[string]struct{}
	for i := range events {
		e := &events[i]
		if e.Type == "" {
			return fmt.Errorf("%w: event %d of %q has no type", ErrInvalidArgument, i, streamID)
		}
		if e.StreamID != "" && e.StreamID != streamID {
			return fmt.Errorf("%w: event %d names stream %q, appended to %q", ErrInvalidArgument, i, e.StreamID, streamID)
		}
		if len(e.Data) > 0 && !validJSON(e.Data) {
			return fmt.Errorf("%w: event %d (%s) of %q: Data is not JSON", ErrInvalidArgument, i, e.Type, streamID)
		}
		if e.Metadata == nil {
			continue
		}
		if e.Schema() == 0 {
			return fmt.Errorf("%w: event %d (%s) of %q: %s %q is not a positive integer", ErrInvalidArgument, i, e.Type, streamID, MetaSchema, e.Metadata[MetaSchema])
		}
		if id, ok := e.Metadata[MetaEventID]; ok {
			if id == "" {
				return fmt.Errorf("%w: event %d (%s) of %q: empty event id", ErrInvalidArgument, i, e.Type, streamID)
			}
			if ids == nil {
				ids = make(map[string]struct{}, len(events))
			}
			if _, dup := ids[id]; dup {
				return fmt.Errorf("%w: event id %q twice in one append to %q", ErrInvalidArgument, id, streamID)
			}
			ids[id] = struct{}{}
		}
	}
	return nil
}

// checkRead validates ReadAll's limit.
func checkLimit(limit int) error {
	if limit < 1 {
		return fmt.Errorf("%w: limit %d (want ≥ 1)", ErrInvalidArgument, limit)
	}
	return nil
}
