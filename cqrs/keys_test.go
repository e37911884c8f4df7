package cqrs

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// oddIDs are stream ids that would pick a hash tag, or end one early, if
// a key took them before its tag.
var oddIDs = []string{"{a}", "a}", "{", "}", "x{y}z", "{}", "s", "snap:s", "ev", "seq"}

// hashTag is the part of key Redis Cluster hashes: between the first '{'
// and the first '}' after it, when that is not empty; else "".
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return ""
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return ""
	}
	return key[open+1 : open+1+end]
}

// Issue 12: "a user-controlled string never becomes a hash tag". A
// snapshot's key was P snap:<stream>, so the stream id "{a}" chose the
// slot ("a"). Now the store chooses every tag; stream ids with braces
// round-trip, on every backend (on a cluster, a key whose tag spans the
// wrong slot would fail the script).
func TestSnapshotKeysAreTaggedByTheStore(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		snaps, err := NewRedisSnapshotStore(tg.Client, WithPrefix(tg.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(tg.Prefix, ":") + ":snap:"
		for i, id := range oddIDs {
			k := snaps.key(id)
			if tag := hashTag(k); !strings.HasPrefix(tag, want) || strings.ContainsAny(tag[len(want):], ":{") {
				t.Errorf("stream %q: key %q has hash tag %q, want %s<hash>", id, k, tag, want)
			}
			s := Snapshot{StreamID: id, Version: int64(i + 1), Schema: 1, Data: []byte(`{"n":1}`)}
			if err := snaps.SaveSnapshot(ctx, s); err != nil {
				t.Fatalf("save %q: %v", id, err)
			}
		}
		for i, id := range oddIDs {
			got, ok, err := snaps.LoadSnapshot(ctx, id)
			if err != nil || !ok || got.Version != int64(i+1) {
				t.Errorf("load %q: %+v %v %v", id, got, ok, err)
			}
		}
		if ttl := tg.Client.PTTL(ctx, snaps.key("s")).Val(); ttl <= 0 || ttl > DefaultSnapshotTTL {
			t.Errorf("snapshot TTL %v", ttl)
		}
	})
}

// No two keys of the package's Redis types meet, whatever the stream ids
// and read-model names (within what the constructors accept), and every
// key but the checkpoints hash carries a tag the package wrote, starting
// with the prefix's tag: no component reaches another's key space.
func TestKeysOfDifferentComponentsNeverMeet(t *testing.T) {
	const prefix = "app:"
	c := dummyClient(t)
	r := newRedisTypes(t, c, prefix)
	owner := map[string]string{}
	add := func(who, key string) {
		if other, dup := owner[key]; dup {
			t.Errorf("key %q belongs to %s and to %s", key, other, who)
		}
		owner[key] = who
		if key == r.cps.key {
			return
		}
		if tag := hashTag(key); tag != "app" && !strings.HasPrefix(tag, "app:") {
			t.Errorf("%s: key %q has tag %q, not one of the prefix's", who, key, tag)
		}
	}
	add("store", r.store.seqKey())
	add("store", r.store.evKey())
	add("store", r.store.tailKey())
	add("checkpoints", r.cps.key)
	for _, id := range append(oddIDs, "checkpoints", "rm:m}:data", "m") {
		add("stream "+id, r.store.base+"s:"+id)
		add("stream ids "+id, r.store.base+"id:"+id)
		add("snapshot "+id, r.snaps.key(id))
	}
	for _, name := range []string{"m", "m:data", "rm:m", "snap:1", "ev", "seq"} {
		m, err := NewRedisReadModel(c, name, balances, WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		add("model "+name, m.metaKey())
		add("model "+name, m.dataKey())
		add("model "+name, m.buildKey())
	}
}

// dummyClient is a client that is never used to talk to a server.
func dummyClient(t testing.TB) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
