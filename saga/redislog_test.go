package saga

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisLogKeyLifecycle: a running saga is in its shard's index and its
// keys have no TTL; a finished one leaves the index and its keys expire
// after the retention. Keys of one saga share a hash slot with its index
// shard (the cluster run would fail otherwise: scripts are single-slot).
func TestRedisLogKeyLifecycle(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		l, err := NewRedisLog(tg.Client, WithPrefix(tg.Prefix), WithRetention(time.Hour), WithShards(8))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		running := make(chan struct{})
		steps := []Step[order]{{Name: "a", Action: func(context.Context, *order) error {
			close(running)
			<-release
			return nil
		}}}
		s := mustNew(t, "life", steps, WithLog(l))
		done := make(chan error, 1)
		go func() { _, err := s.Execute(ctx, "x", order{}); done <- err }()
		<-running
		keys := l.keys("life", "x")
		for i, k := range keys {
			if !strings.HasPrefix(k, tg.Prefix+"{life:") {
				t.Errorf("key %d %q lacks the {saga:shard} hash tag", i, k)
			}
		}
		for _, k := range keys[:2] {
			if ttl := tg.Client.PTTL(ctx, k).Val(); ttl != -1*time.Nanosecond && ttl != -1*time.Millisecond {
				t.Errorf("running saga key %s has TTL %v, want none", k, ttl)
			}
		}
		if _, err := tg.Client.ZScore(ctx, keys[2], "x").Result(); err != nil {
			t.Errorf("running saga not in its index shard: %v", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for _, k := range keys[:2] {
			if ttl := tg.Client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Errorf("finished saga key %s has TTL %v, want (0, 1h]", k, ttl)
			}
		}
		if n := tg.Client.Exists(ctx, keys[2]).Val(); n != 0 {
			t.Errorf("index shard still exists after its only saga finished")
		}
		if tg.Mini != nil {
			tg.Advance(time.Hour + time.Second)
			if _, err := s.Get(ctx, "x"); err == nil {
				t.Errorf("finished saga still there after the retention")
			}
		}
	})
}
