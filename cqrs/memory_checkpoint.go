package cqrs

import (
	"context"
	"sync"
)

// MemoryCheckpointStore is a CheckpointStore in the process's memory.
type MemoryCheckpointStore struct {
	mu sync.Mutex
	m  map[string]int64
}

var _ CheckpointStore = (*MemoryCheckpointStore)(nil)

// NewMemoryCheckpointStore returns an empty in-memory checkpoint store.
func NewMemoryCheckpointStore() *MemoryCheckpointStore {
	return &MemoryCheckpointStore{m: make(map[string]int64)}
}

// LoadCheckpoint implements CheckpointStore.
func (s *MemoryCheckpointStore) LoadCheckpoint(ctx context.Context, name string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name], nil
}

// SaveCheckpoint implements CheckpointStore. A negative pos is an error
// wrapping ErrInvalidArgument.
func (s *MemoryCheckpointStore) SaveCheckpoint(ctx context.Context, name string, pos int64) error {
	if err := checkCheckpoint(name, pos); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = pos
	return nil
}
