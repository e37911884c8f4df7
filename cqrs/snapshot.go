package cqrs

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
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

var (
	//go:embed lua/snapshot.lua
	snapshotLua    string
	snapshotScript = redis.NewScript(snapshotLua)
)

// RedisSnapshotStore is a SnapshotStore in Redis: one hash per stream S,
// P{T:snap:H}:S for prefix P (WithPrefix), T = P without its trailing ':'
// and H = FNV-1a(S) in hex, so that snapshots spread over a cluster's
// slots rather than load the event store's — while the store, not the
// stream id, picks each key's hash tag: a stream id may hold any bytes,
// braces included. Snapshots are a cache: each lives for WithSnapshotTTL
// (default 7 days) after it was last saved; a Redis that loses them (a
// restart without persistence, a flush, eviction) costs one full replay
// of each stream.
type RedisSnapshotStore struct {
	call   caller
	prefix string
	ttl    string // ms
}

var _ SnapshotStore = (*RedisSnapshotStore)(nil)

// NewRedisSnapshotStore returns a snapshot store on c. Options:
// WithPrefix, WithTimeout, WithSnapshotTTL. Errors wrap ErrInvalidConfig.
func NewRedisSnapshotStore(c redis.UniversalClient, opts ...Option) (*RedisSnapshotStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewRedisSnapshotStore: nil Redis client", ErrInvalidConfig)
	}
	o, err := applyOptions("NewRedisSnapshotStore", opts, "ttl")
	if err != nil {
		return nil, err
	}
	return &RedisSnapshotStore{call: newCaller(c, o.timeout), prefix: o.prefix,
		ttl: strconv.FormatInt(o.ttl.Milliseconds(), 10)}, nil
}

func (r *RedisSnapshotStore) key(streamID string) string {
	return tagged(r.prefix, ":snap:"+spread(streamID)) + streamID
}

// SaveSnapshot implements SnapshotStore.
func (r *RedisSnapshotStore) SaveSnapshot(ctx context.Context, s Snapshot) error {
	if err := checkSnapshot(s); err != nil {
		return err
	}
	err := r.call.eval(ctx, snapshotScript, []string{r.key(s.StreamID)}, s.Version, s.Schema, []byte(s.Data), r.ttl).Err()
	if err != nil {
		return fmt.Errorf("cqrs: redis snapshots: save %q: %w", s.StreamID, err)
	}
	return nil
}

// LoadSnapshot implements SnapshotStore.
func (r *RedisSnapshotStore) LoadSnapshot(ctx context.Context, streamID string) (Snapshot, bool, error) {
	var vals []any
	err := r.call.do(ctx, func(ctx context.Context) error {
		var err error
		vals, err = r.call.client.HMGet(ctx, r.key(streamID), "v", "s", "d").Result()
		return err
	})
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("cqrs: redis snapshots: load %q: %w", streamID, err)
	}
	if len(vals) != 3 || vals[0] == nil {
		return Snapshot{}, false, nil
	}
	vs, _ := vals[0].(string)
	ss, _ := vals[1].(string)
	d, _ := vals[2].(string)
	v, err1 := strconv.ParseInt(vs, 10, 64)
	sc, err2 := strconv.Atoi(ss)
	if err := errors.Join(err1, err2); err != nil {
		return Snapshot{}, false, fmt.Errorf("cqrs: redis snapshots: %q: malformed: %w", streamID, err)
	}
	return Snapshot{StreamID: streamID, Version: v, Schema: sc, Data: json.RawMessage(d)}, true, nil
}
