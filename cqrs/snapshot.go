package cqrs

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
)

// Snapshot is an aggregate's state as of a version of its stream, so that
// loading it replays only the events after that version.
type Snapshot struct {
	StreamID string
	// Version is the stream version the state includes.
	Version int64
	// Schema is the version of the state's encoding
	// (WithSnapshotSchema): a Repository ignores snapshots of another
	// schema and replays the stream in full instead.
	Schema int
	// Data is the state as JSON.
	Data json.RawMessage
}

// SnapshotStore keeps the latest snapshot of each stream.
type SnapshotStore interface {
	// SaveSnapshot stores s unless a snapshot of the same schema and at
	// least the same version is stored already.
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// LoadSnapshot returns the stream's snapshot; false when there is none.
	LoadSnapshot(ctx context.Context, streamID string) (Snapshot, bool, error)
}

// LoadSnapshot implements SnapshotStore.
func (m *MemorySnapshotStore) LoadSnapshot(ctx context.Context, streamID string) (Snapshot, bool, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.m[streamID]
	return s, ok, nil
}

func checkSnapshot(s Snapshot) error {
	switch {
	case s.StreamID == "":
		return fmt.Errorf("%w: snapshot without stream id", ErrInvalidArgument)
	case s.Version < 1:
		return fmt.Errorf("%w: snapshot of %q at version %d", ErrInvalidArgument, s.StreamID, s.Version)
	case s.Schema < 1:
		return fmt.Errorf("%w: snapshot of %q with schema %d", ErrInvalidArgument, s.StreamID, s.Schema)
	case !json.Valid(s.Data):
		return fmt.Errorf("%w: snapshot of %q: Data is not JSON", ErrInvalidArgument, s.StreamID)
	}
	return nil
}
