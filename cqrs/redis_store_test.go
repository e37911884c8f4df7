package cqrs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisStoreKeys: every key starts with the prefix and carries the
// store's hash tag (the cluster run fails otherwise: scripts are
// single-slot); nothing has a TTL; the tail stays small.
func TestRedisStoreKeys(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, "a", NoStream, deposited(1).WithID("x"), deposited(2))
		mustAppend(t, s, "b", NoStream, deposited(3))
		tag := "{" + strings.TrimSuffix(tg.Prefix, ":") + "}:"
		keys := []string{s.seqKey(), s.evKey(), s.tailKey(), s.base + "s:a", s.base + "id:a", s.base + "s:b"}
		for _, k := range keys {
			if !strings.HasPrefix(k, tg.Prefix+tag) {
				t.Errorf("key %q lacks prefix and tag %q", k, tg.Prefix+tag)
			}
			if n := tg.Client.Exists(ctx, k).Val(); n != 1 {
				t.Errorf("key %q missing", k)
			}
			if ttl := tg.Client.PTTL(ctx, k).Val(); ttl > 0 {
				t.Errorf("key %q has TTL %v", k, ttl)
			}
		}
		if n := tg.Client.Exists(ctx, s.base+"id:b").Val(); n != 0 {
			t.Error("a stream appended to without ids has an id hash")
		}
		for i := 0; i < 300; i++ {
			mustAppend(t, s, "c", AnyVersion, deposited(i))
		}
		if n := tg.Client.XLen(ctx, s.tailKey()).Val(); n < 1 || n > 250 {
			t.Errorf("tail holds %d entries, want it capped near 100", n)
		}
		if tg.Kind == redistest.Cluster {
			slots := map[int64]bool{}
			for _, k := range keys {
				slots[tg.Client.ClusterKeySlot(ctx, k).Val()] = true
			}
			if len(slots) != 1 {
				t.Errorf("keys in %d slots", len(slots))
			}
		}
	})
}

// Which option fits which constructor is checked by the compiler: a
// misfit (WithBlock on a snapshot store, WithSnapshotTTL on a RedisStore)
// does not compile, so there is no run-time check left to test.
var (
	_ RedisOption         = WithPrefix("")
	_ RedisOption         = WithTimeout(0)
	_ Option              = WithBlock(0)
	_ SnapshotStoreOption = WithSnapshotTTL(0)
)

func TestRedisStoreConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, opts := range map[string][]Option{
		"empty prefix": {WithPrefix("")},
		"brace prefix": {WithPrefix("a{b}")},
		"zero timeout": {WithTimeout(0)},
		"short block":  {WithBlock(time.Microsecond)},
		"nil option":   {nil},
	} {
		_, err := NewRedisStore(c, opts...)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	for name, opts := range map[string][]SnapshotStoreOption{
		"tiny snapshots": {WithSnapshotTTL(0)},
		"nil option":     {nil},
		"empty prefix":   {WithPrefix("")},
	} {
		_, err := NewRedisSnapshotStore(c, opts...)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	_, err := NewRedisCheckpointStore(c, WithTimeout(-1))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewRedisReadModel(c, "m", balances, WithPrefix("{"))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewRedisStore(nil)
	assert.ErrorIs(t, err, ErrInvalidConfig, "nil client")

	s, err := NewRedisStore(c, WithPrefix("ok:"), WithTimeout(time.Second), WithBlock(time.Second))
	require.NoError(t, err)
	assert.Equal(t, time.Second, s.block)
	s, err = NewRedisStore(c)
	require.NoError(t, err)
	assert.Equal(t, DefaultBlock, s.block)
	assert.Equal(t, "cqrs:{cqrs}:", s.base)
	ss, err := NewRedisSnapshotStore(c, WithSnapshotTTL(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "3600000", ss.ttl)
}

// TestRedisStoreFaults: a lost Redis is an error, not a hang; a frozen one
// is cut at the timeout, on clients with and without
// ContextTimeoutEnabled; the store works again once Redis is back.
func TestRedisStoreFaults(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		for _, ctxTimeouts := range []bool{false, true} {
			var opts []redistest.ClientOption
			if ctxTimeouts {
				opts = append(opts, redistest.WithContextTimeouts())
			}
			c, f := tg.NewClient(opts...)
			s, err := NewRedisStore(c, WithPrefix(tg.Prefix), WithTimeout(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, s, "f", AnyVersion, deposited(1))
			f.Cut()
			if _, err := s.Append(ctx, "f", AnyVersion, deposited(2)); err == nil {
				t.Fatal("append on a cut connection succeeded")
			}
			f.Heal()
			f.Hang()
			start := time.Now()
			_, err = s.Load(ctx, "f", 1)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("load on a hung connection: %v", err)
			}
			if d, late := redistest.Late(start, 50*time.Millisecond); late {
				t.Errorf("hung load took %v, timeout 50ms (+%v)", d, redistest.Slack)
			}
			f.Heal()
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, err := s.Append(ctx, "f", AnyVersion, deposited(3)); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("no recovery: %v", err)
				}
			}
		}
	})
}

// TestRedisStoreLargePositions: positions and versions past 1e14, where
// Lua's own number formatting ('%.14g') switches to exponent notation,
// are written and read back exactly; Wait works there too. An append that
// fails stores nothing (scripts do not roll back: the append script runs
// everything that can fail first).
func TestRedisStoreLargePositions(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix), WithBlock(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		const base = int64(99_999_999_999_998)
		if err := tg.Client.Set(ctx, s.seqKey(), base, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v := mustAppend(t, s, "big", NoStream, deposited(1).WithID("a"), deposited(2).WithID("b"), deposited(3).WithID("c")); v != 3 {
			t.Fatalf("version %d after 3 events", v)
		}
		if h := head(t, s); h != base+3 {
			t.Fatalf("head %d, want %d", h, base+3)
		}
		evs, err := s.ReadAll(ctx, base+1, 10)
		if err != nil || len(evs) != 3 {
			t.Fatalf("read all: %d events, %v", len(evs), err)
		}
		loaded := mustLoad(t, s, "big", 1)
		for i, e := range evs {
			if e.Position != base+1+int64(i) || e.Version != int64(i)+1 {
				t.Errorf("event %d: position %d version %d", i, e.Position, e.Version)
			}
			if err := sameEvent(e, loaded[i]); err != nil {
				t.Error(err)
			}
		}
		// An exact retry (event ids) finds the versions stored past 1e14.
		if v, err := s.Append(ctx, "big", NoStream, deposited(1).WithID("a"), deposited(2).WithID("b"), deposited(3).WithID("c")); err != nil || v != 3 {
			t.Errorf("exact retry: %d, %v", v, err)
		}
		if h := head(t, s); h != base+3 {
			t.Fatalf("exact retry moved the head to %d", h)
		}
		if err := s.Wait(within(t, time.Second), base+2); err != nil {
			t.Errorf("wait: %v", err)
		}

		// A tail stream ahead of the counter makes XADD fail: the append
		// must fail before writing anything.
		if err := tg.Client.XAdd(ctx, &redis.XAddArgs{Stream: s.tailKey(), ID: "999999999999999-0", Values: []string{"p", "0"}}).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, "big", 3, deposited(4)); err == nil {
			t.Fatal("append with the tail ahead of the counter succeeded")
		}
		if h := head(t, s); h != base+3 {
			t.Errorf("failed append moved the head to %d", h)
		}
		if evs := mustLoad(t, s, "big", 1); len(evs) != 3 {
			t.Errorf("failed append left %d events in the stream", len(evs))
		}
	})
}
