package cqrs

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// RedisSnapshotStore is a SnapshotStore in Redis: one hash per stream S,
// P{T:snap:H}:S for prefix P (WithPrefix), T = P without its trailing ':'
// and H = FNV-1a(S) in hex, so that snapshots spread over a cluster's
// slots rather than load the event store's — while the store, not the
// stream id, picks each key's hash tag: a stream id may hold any bytes,
// braces included. Snapshots are a cache: each lives for WithSnapshotTTL
// (default DefaultSnapshotTTL) after it was last saved; a Redis that loses them (a
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
func NewRedisSnapshotStore(c redis.UniversalClient, opts ...SnapshotStoreOption) (*RedisSnapshotStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewRedisSnapshotStore: nil Redis client", ErrInvalidConfig)
	}
	o, err := applyOptions("NewRedisSnapshotStore", opts, SnapshotStoreOption.applySnapshotStore)
	if err != nil {
		return nil, err
	}
	return &RedisSnapshotStore{call: newCaller(c, o), prefix: o.prefix,
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

var (
	//go:embed lua/snapshot.lua
	snapshotLua    string
	snapshotScript = redis.NewScript(snapshotLua)
)
