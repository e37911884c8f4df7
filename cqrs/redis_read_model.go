package cqrs

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

var (
	//go:embed lua/model_commit.lua
	modelCommitLua string
	//go:embed lua/model_build.lua
	modelBuildLua string

	modelCommitScript = redis.NewScript(modelCommitLua)
	modelBuildScript  = redis.NewScript(modelBuildLua)
)

// RedisReadModel is a key-value read model in Redis, built by a
// ModelHandler; values are stored as JSON. Each batch's changes and its
// checkpoint are stored by one Lua script that first checks the checkpoint
// is where the batch started and that no rebuild was swapped in since the
// batch read its values (the meta hash's copy generation): every event
// takes effect exactly once, even when two runners race (one wins each
// batch, the other rereads the checkpoint) or a rebuild swaps in a copy at
// the same checkpoint, and the model survives restarts — its Runner catches up
// from the checkpoint. It is a Rebuilder: a rebuild fills a hidden copy
// and swaps it in with RENAME.
//
// Keys, for prefix P (WithPrefix), T = P without its trailing ':' and the
// model's name N:
//
//	P{T:rm:N}:meta   hash: cp (checkpoint), gen (copy generation, +1 per
//	                 swap); bseq, bact, bcp while rebuilding
//	P{T:rm:N}:data   hash: key -> value (JSON)
//	P{T:rm:N}:build  hash: the copy being rebuilt
//
// N has no braces (NewRedisReadModel refuses them), so the tag is the
// model's own and the keys of two models, or of a model and a store,
// never meet; the keys under data are hash fields, where any bytes are
// fine.
//
// A model's keys share a hash slot, so each model lives on one cluster
// master and different models spread over the cluster. Reads (Get) are
// one HGET. Lifecycle: explicit; the keys live until Drop.
type RedisReadModel[V any] struct {
	name string
	h    ModelHandler[V]
	call caller
	base string
	live atomic.Pointer[livePos] // the live copy as last seen; nil unknown
	// keyOf names the key an event's handler reads (WithPrefetch); nil:
	// every key is read when the handler asks for it.
	keyOf func(Event) (string, bool)
}

// livePos is where the live copy stood when last seen: its checkpoint and
// its generation. A batch commits only if both are unchanged: a swap can
// leave the checkpoint where it was, but never the generation.
type livePos struct{ cp, gen int64 }

var (
	_ Projection = (*RedisReadModel[int])(nil)
	_ Rebuilder  = (*RedisReadModel[int])(nil)
)

// NewRedisReadModel returns the read model named name on c, built by h.
// The name must not contain braces. Options: WithPrefix, WithTimeout,
// WithoutPipelining, WithPrefetch.
// Errors wrap ErrInvalidConfig.
func NewRedisReadModel[V any](c redis.UniversalClient, name string, h ModelHandler[V], opts ...ReadModelOption) (*RedisReadModel[V], error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewRedisReadModel: nil Redis client", ErrInvalidConfig)
	}
	// The name goes inside the model's hash tag: a brace in it would end
	// the tag early and let the name choose another slot.
	if err := redisx.CheckName("read model name", name); err != nil {
		return nil, fmt.Errorf("%w: NewRedisReadModel: %v", ErrInvalidConfig, err)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: NewRedisReadModel(%q): nil handler", ErrInvalidConfig, name)
	}
	o, err := applyOptions("NewRedisReadModel", opts, ReadModelOption.applyReadModel)
	if err != nil {
		return nil, err
	}
	m := &RedisReadModel[V]{name: name, h: h, call: newCaller(c, o), base: tagged(o.prefix, ":rm:"+name), keyOf: o.prefetch}
	return m, nil
}

func (m *RedisReadModel[V]) metaKey() string  { return m.base + "meta" }
func (m *RedisReadModel[V]) dataKey() string  { return m.base + "data" }
func (m *RedisReadModel[V]) buildKey() string { return m.base + "build" }

// Name implements Projection.
func (m *RedisReadModel[V]) Name() string { return m.name }

// Checkpoint implements Projection.
func (m *RedisReadModel[V]) Checkpoint(ctx context.Context) (int64, error) {
	p, err := m.livePos(ctx)
	return p.cp, err
}

// livePos reads the live copy's checkpoint and generation together (one
// HMGET) and remembers them for the next Apply.
func (m *RedisReadModel[V]) livePos(ctx context.Context) (livePos, error) {
	var vals []any
	err := m.call.do(ctx, func(ctx context.Context) error {
		var err error
		vals, err = m.call.client.HMGet(ctx, m.metaKey(), "cp", "gen").Result()
		return err
	})
	if err != nil {
		return livePos{}, fmt.Errorf("cqrs: read model %s: checkpoint: %w", m.name, err)
	}
	var p livePos
	for i, dst := range []*int64{&p.cp, &p.gen} {
		if i >= len(vals) || vals[i] == nil {
			continue
		}
		s, ok := vals[i].(string)
		n, perr := strconv.ParseInt(s, 10, 64)
		if !ok || perr != nil {
			return livePos{}, fmt.Errorf("cqrs: read model %s: checkpoint: %w", m.name, errBadReply)
		}
		*dst = n
	}
	m.live.Store(&p)
	return p, nil
}

func (m *RedisReadModel[V]) hgetInt(ctx context.Context, field string) (int64, error) {
	var n int64
	err := m.call.do(ctx, func(ctx context.Context) error {
		var err error
		n, err = m.call.client.HGet(ctx, m.metaKey(), field).Int64()
		if errors.Is(err, redis.Nil) {
			n, err = 0, nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cqrs: read model %s: checkpoint: %w", m.name, err)
	}
	return n, nil
}

// Get returns the value under key.
func (m *RedisReadModel[V]) Get(ctx context.Context, key string) (V, bool, error) {
	return m.get(ctx, m.dataKey(), key)
}

func (m *RedisReadModel[V]) get(ctx context.Context, hash, key string) (V, bool, error) {
	var v V
	var raw string
	err := m.call.do(ctx, func(ctx context.Context) error {
		var err error
		raw, err = m.call.client.HGet(ctx, hash, key).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("cqrs: read model %s: get %q: %w", m.name, key, err)
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, false, fmt.Errorf("cqrs: read model %s: decoding %q: %w", m.name, key, err)
	}
	return v, true, nil
}

// All returns the whole model (HGETALL: for tests and small models).
func (m *RedisReadModel[V]) All(ctx context.Context) (map[string]V, error) {
	var raw map[string]string
	err := m.call.do(ctx, func(ctx context.Context) error {
		var err error
		raw, err = m.call.client.HGetAll(ctx, m.dataKey()).Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cqrs: read model %s: all: %w", m.name, err)
	}
	out := make(map[string]V, len(raw))
	for k, s := range raw {
		var v V
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("cqrs: read model %s: decoding %q: %w", m.name, k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Drop deletes the model's keys: data, checkpoint and any rebuild copy.
func (m *RedisReadModel[V]) Drop(ctx context.Context) error {
	err := m.call.do(ctx, func(ctx context.Context) error {
		return m.call.client.Del(ctx, m.metaKey(), m.dataKey(), m.buildKey()).Err()
	})
	if err != nil {
		return fmt.Errorf("cqrs: read model %s: drop: %w", m.name, err)
	}
	m.live.Store(nil)
	return nil
}

// Apply implements Projection. The batch commits only if the live copy is
// still the one, at the checkpoint, that it read from: else it is
// ErrCheckpointMoved and nothing is stored.
func (m *RedisReadModel[V]) Apply(ctx context.Context, events []Event) error {
	p := m.live.Load()
	if p == nil {
		cur, err := m.livePos(ctx)
		if err != nil {
			return err
		}
		p = &cur
	}
	if len(events) == 0 {
		return nil
	}
	from, through := batchRange(events)
	return m.apply(ctx, m.dataKey(), "cp", "", *p, from, through, events, func(q livePos) { m.live.Store(&q) })
}

// ApplyRange implements RangeApplier.
func (m *RedisReadModel[V]) ApplyRange(ctx context.Context, from, through int64, events []Event) error {
	p := m.live.Load()
	if p == nil {
		cur, err := m.livePos(ctx)
		if err != nil {
			return err
		}
		p = &cur
	}
	return m.apply(ctx, m.dataKey(), "cp", "", *p, from, through, events, func(q livePos) { m.live.Store(&q) })
}

// apply applies events (those of positions from..through that are to be
// applied) to the data hash and moves its checkpoint, in field cpField,
// from position at (at.gen: the live copy's generation, ignored for a
// build, which its token guards) to through; seen records a position
// learnt.
func (m *RedisReadModel[V]) apply(ctx context.Context, hash, cpField, token string, at livePos, from, through int64, events []Event, seen func(livePos)) error {
	cp := at.cp
	events, done, err := skipRange(m.name, from, through, events, cp)
	if err != nil || done {
		return err
	}
	tx := newTx(func(ctx context.Context, key string) (V, bool, error) { return m.get(ctx, hash, key) })
	if m.keyOf != nil {
		if err := m.prefetch(ctx, hash, tx, events); err != nil {
			return err
		}
	}
	if err := applyTx(ctx, m.name, m.h, tx, events); err != nil {
		return err
	}
	last := through
	gen := ""
	if token == "" {
		gen = strconv.FormatInt(at.gen, 10)
	}
	args := []any{cpField, token, cp, last, gen, 0}
	var dels []any
	puts := 0
	for k, e := range tx.entries {
		switch {
		case !e.dirty:
		case e.present:
			b, err := json.Marshal(e.v)
			if err != nil {
				return fmt.Errorf("cqrs: read model %s: encoding %q: %w", m.name, k, err)
			}
			args = append(args, k, b)
			puts++
		default:
			dels = append(dels, k)
		}
	}
	args[5] = puts
	args = append(args, dels...)
	reply, err := m.call.eval(ctx, modelCommitScript, []string{m.metaKey(), hash}, args...).Slice()
	if err != nil {
		if token == "" {
			m.live.Store(nil) // the outcome is unknown: reread before the next batch
		}
		return fmt.Errorf("cqrs: read model %s: commit: %w", m.name, err)
	}
	if len(reply) == 0 {
		return errBadReply
	}
	code, _ := reply[0].(int64)
	switch code {
	case 0:
		seen(livePos{cp: last, gen: at.gen})
		return nil
	case 1:
		if len(reply) < 3 {
			return errBadReply
		}
		actual, _ := reply[1].(int64)
		actualGen, _ := reply[2].(int64)
		seen(livePos{cp: actual, gen: actualGen})
		if token == "" && actualGen != at.gen {
			return fmt.Errorf("%w: a rebuild of %s was swapped in while a batch was applied", ErrCheckpointMoved, m.name)
		}
		return fmt.Errorf("%w: %s is at %d, the batch started at %d", ErrCheckpointMoved, m.name, actual, cp)
	case 2:
		return fmt.Errorf("%w: build of %s superseded or finished", ErrCheckpointMoved, m.name)
	}
	return errBadReply
}

// NewBuild implements Rebuilder.
func (m *RedisReadModel[V]) NewBuild(ctx context.Context) (Build, error) {
	tok, err := m.call.eval(ctx, modelBuildScript, []string{m.metaKey(), m.dataKey(), m.buildKey()}, "new").Int64()
	if err != nil {
		return nil, fmt.Errorf("cqrs: read model %s: new build: %w", m.name, err)
	}
	return &redisBuild[V]{m: m, token: strconv.FormatInt(tok, 10)}, nil
}

type redisBuild[V any] struct {
	m     *RedisReadModel[V]
	token string
	cp    int64
}

func (b *redisBuild[V]) Checkpoint(ctx context.Context) (int64, error) {
	cp, err := b.m.hgetInt(ctx, "bcp")
	if err == nil {
		b.cp = cp
	}
	return cp, err
}

func (b *redisBuild[V]) Apply(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	from, through := batchRange(events)
	return b.ApplyRange(ctx, from, through, events)
}

// ApplyRange implements RangeApplier.
func (b *redisBuild[V]) ApplyRange(ctx context.Context, from, through int64, events []Event) error {
	return b.m.apply(ctx, b.m.buildKey(), "bcp", b.token, livePos{cp: b.cp}, from, through, events, func(p livePos) { b.cp = p.cp })
}

func (b *redisBuild[V]) Swap(ctx context.Context) error    { return b.finish(ctx, "swap") }
func (b *redisBuild[V]) Discard(ctx context.Context) error { return b.finish(ctx, "discard") }

func (b *redisBuild[V]) finish(ctx context.Context, op string) error {
	m := b.m
	ok, err := m.call.eval(ctx, modelBuildScript, []string{m.metaKey(), m.dataKey(), m.buildKey()}, op, b.token).Int64()
	if err != nil {
		return fmt.Errorf("cqrs: read model %s: %s build: %w", m.name, op, err)
	}
	if ok != 1 {
		return fmt.Errorf("%w: build of %s superseded or finished", ErrCheckpointMoved, m.name)
	}
	if op == "swap" {
		m.live.Store(nil)
	}
	return nil
}
