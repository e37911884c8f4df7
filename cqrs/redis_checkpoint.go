package cqrs

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisCheckpointStore is a CheckpointStore in Redis: one hash, P
// checkpoints (prefix P, WithPrefix), field per projection. Its lifecycle
// is explicit: a checkpoint lives until DeleteCheckpoint.
type RedisCheckpointStore struct {
	call caller
	key  string
}

var _ CheckpointStore = (*RedisCheckpointStore)(nil)

// NewRedisCheckpointStore returns a checkpoint store on c. Options:
// WithPrefix, WithTimeout. Errors wrap ErrInvalidConfig.
func NewRedisCheckpointStore(c redis.UniversalClient, opts ...CheckpointStoreOption) (*RedisCheckpointStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewRedisCheckpointStore: nil Redis client", ErrInvalidConfig)
	}
	o, err := applyOptions("NewRedisCheckpointStore", opts, CheckpointStoreOption.applyCheckpointStore)
	if err != nil {
		return nil, err
	}
	return &RedisCheckpointStore{call: newCaller(c, o), key: o.prefix + "checkpoints"}, nil
}

// LoadCheckpoint implements CheckpointStore.
func (s *RedisCheckpointStore) LoadCheckpoint(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := s.call.do(ctx, func(ctx context.Context) error {
		var err error
		pos, err = s.call.client.HGet(ctx, s.key, name).Int64()
		if errors.Is(err, redis.Nil) {
			pos, err = 0, nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cqrs: redis checkpoints: load %q: %w", name, err)
	}
	return pos, nil
}

// SaveCheckpoint implements CheckpointStore. A negative pos is an error
// wrapping ErrInvalidArgument.
func (s *RedisCheckpointStore) SaveCheckpoint(ctx context.Context, name string, pos int64) error {
	if err := checkCheckpoint(name, pos); err != nil {
		return err
	}
	err := s.call.do(ctx, func(ctx context.Context) error {
		return s.call.client.HSet(ctx, s.key, name, pos).Err()
	})
	if err != nil {
		return fmt.Errorf("cqrs: redis checkpoints: save %q: %w", name, err)
	}
	return nil
}

// DeleteCheckpoint removes the named projection's checkpoint.
func (s *RedisCheckpointStore) DeleteCheckpoint(ctx context.Context, name string) error {
	err := s.call.do(ctx, func(ctx context.Context) error {
		return s.call.client.HDel(ctx, s.key, name).Err()
	})
	if err != nil {
		return fmt.Errorf("cqrs: redis checkpoints: delete %q: %w", name, err)
	}
	return nil
}
