package cqrs

import (
	"context"
	"fmt"
	"sync"
)

// MemoryReadModel is a key-value read model in the process's memory,
// built by a ModelHandler. Each batch's changes and its checkpoint are
// stored under one lock: every event takes effect exactly once. Being in
// memory, it starts empty at checkpoint 0 in each process and is built
// from the start of the log by its Runner. It is a Rebuilder.
//
// Get returns the stored values themselves: treat them as read-only
// (copy a slice or map before changing it in a handler, and Put the copy).
type MemoryReadModel[V any] struct {
	name string
	h    ModelHandler[V]

	mu       sync.RWMutex
	cur      *memCopy[V]
	buildSeq int64
	building int64 // the token of the build that may swap in (0: none)
}

type memCopy[V any] struct {
	data map[string]V
	cp   int64
}

var (
	_ Projection = (*MemoryReadModel[int])(nil)
	_ Rebuilder  = (*MemoryReadModel[int])(nil)
)

// NewMemoryReadModel returns an empty read model named name, built by h.
func NewMemoryReadModel[V any](name string, h ModelHandler[V]) (*MemoryReadModel[V], error) {
	if name == "" {
		return nil, fmt.Errorf("%w: NewMemoryReadModel: empty name", ErrInvalidConfig)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: NewMemoryReadModel(%q): nil handler", ErrInvalidConfig, name)
	}
	return &MemoryReadModel[V]{name: name, h: h, cur: &memCopy[V]{data: make(map[string]V)}}, nil
}

// Name implements Projection.
func (m *MemoryReadModel[V]) Name() string { return m.name }

// Checkpoint implements Projection.
func (m *MemoryReadModel[V]) Checkpoint(ctx context.Context) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cur.cp, ctx.Err()
}

// Get returns the value under key.
func (m *MemoryReadModel[V]) Get(ctx context.Context, key string) (V, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.cur.data[key]
	return v, ok, ctx.Err()
}

// All returns a copy of the whole model (for tests and small models).
func (m *MemoryReadModel[V]) All(ctx context.Context) (map[string]V, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]V, len(m.cur.data))
	for k, v := range m.cur.data {
		out[k] = v
	}
	return out, ctx.Err()
}

// Len returns the number of entries.
func (m *MemoryReadModel[V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.cur.data)
}

// Apply implements Projection.
func (m *MemoryReadModel[V]) Apply(ctx context.Context, events []Event) error {
	m.mu.RLock()
	c := m.cur
	m.mu.RUnlock()
	if len(events) == 0 {
		return nil
	}
	from, through := batchRange(events)
	return m.apply(ctx, c, from, through, events, func() bool { return m.cur == c })
}

// ApplyRange implements RangeApplier.
func (m *MemoryReadModel[V]) ApplyRange(ctx context.Context, from, through int64, events []Event) error {
	m.mu.RLock()
	c := m.cur
	m.mu.RUnlock()
	return m.apply(ctx, c, from, through, events, func() bool { return m.cur == c })
}

// apply applies events, those of positions from..through that are to be
// applied, to copy c and moves its checkpoint to through; current reports,
// under the lock, whether c may still be written.
func (m *MemoryReadModel[V]) apply(ctx context.Context, c *memCopy[V], from, through int64, events []Event, current func() bool) error {
	m.mu.RLock()
	cp := c.cp
	m.mu.RUnlock()
	events, done, err := skipRange(m.name, from, through, events, cp)
	if err != nil || done {
		return err
	}
	read := func(_ context.Context, key string) (V, bool, error) {
		m.mu.RLock()
		defer m.mu.RUnlock()
		v, ok := c.data[key]
		return v, ok, nil
	}
	tx, err := applyAll(ctx, m.name, m.h, read, events)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !current() || c.cp != cp {
		return fmt.Errorf("%w: %s moved while a batch was applied", ErrCheckpointMoved, m.name)
	}
	for k, e := range tx.entries {
		switch {
		case !e.dirty:
		case e.present:
			c.data[k] = e.v
		default:
			delete(c.data, k)
		}
	}
	c.cp = through
	return nil
}

// NewBuild implements Rebuilder.
func (m *MemoryReadModel[V]) NewBuild(ctx context.Context) (Build, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buildSeq++
	m.building = m.buildSeq
	return &memBuild[V]{m: m, c: &memCopy[V]{data: make(map[string]V)}, token: m.buildSeq}, nil
}

type memBuild[V any] struct {
	m     *MemoryReadModel[V]
	c     *memCopy[V]
	token int64
}

func (b *memBuild[V]) Checkpoint(ctx context.Context) (int64, error) {
	b.m.mu.RLock()
	defer b.m.mu.RUnlock()
	return b.c.cp, ctx.Err()
}

func (b *memBuild[V]) Apply(ctx context.Context, events []Event) error {
	if !b.active() {
		return fmt.Errorf("%w: build of %s superseded or finished", ErrCheckpointMoved, b.m.name)
	}
	if len(events) == 0 {
		return nil
	}
	from, through := batchRange(events)
	return b.ApplyRange(ctx, from, through, events)
}

// ApplyRange implements RangeApplier.
func (b *memBuild[V]) ApplyRange(ctx context.Context, from, through int64, events []Event) error {
	if !b.active() {
		return fmt.Errorf("%w: build of %s superseded or finished", ErrCheckpointMoved, b.m.name)
	}
	return b.m.apply(ctx, b.c, from, through, events, func() bool { return b.m.building == b.token })
}

func (b *memBuild[V]) active() bool {
	b.m.mu.RLock()
	defer b.m.mu.RUnlock()
	return b.m.building == b.token
}

func (b *memBuild[V]) Swap(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.m.mu.Lock()
	defer b.m.mu.Unlock()
	if b.m.building != b.token {
		return fmt.Errorf("%w: build of %s superseded or finished", ErrCheckpointMoved, b.m.name)
	}
	b.m.cur, b.m.building = b.c, 0
	return nil
}

func (b *memBuild[V]) Discard(context.Context) error {
	b.m.mu.Lock()
	defer b.m.mu.Unlock()
	if b.m.building == b.token {
		b.m.building = 0
	}
	return nil
}
