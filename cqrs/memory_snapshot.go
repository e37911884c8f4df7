package cqrs

import (
	"context"
	_ "embed"
	"encoding/json"
	"sync"
)

// MemorySnapshotStore is a SnapshotStore in the process's memory; it
// holds one snapshot per stream for its lifetime.
type MemorySnapshotStore struct {
	mu sync.RWMutex
	m  map[string]Snapshot
}

var _ SnapshotStore = (*MemorySnapshotStore)(nil)

// NewMemorySnapshotStore returns an empty in-memory snapshot store.
func NewMemorySnapshotStore() *MemorySnapshotStore {
	return &MemorySnapshotStore{m: make(map[string]Snapshot)}
}

// SaveSnapshot implements SnapshotStore.
func (m *MemorySnapshotStore) SaveSnapshot(ctx context.Context, s Snapshot) error {
	if err := checkSnapshot(s); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.Data = append(json.RawMessage(nil), s.Data...)
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.m[s.StreamID]; ok && cur.Schema == s.Schema && cur.Version >= s.Version {
		return nil
	}
	m.m[s.StreamID] = s
	return nil
}
