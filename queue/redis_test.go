package queue_test

import (
	"testing"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
	"github.com/sysdesign/patterns/queue/queuetest"
)

func TestRedisConformance(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queue.Queue {
			q, err := queue.NewRedis(tg.Client, queue.WithPrefix(tg.Prefix), queue.WithName(t.Name()),
				queue.WithClock(cfg.Now), queue.WithAging(cfg.Aging), queue.WithPollInterval(cfg.Poll))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { q.Close() })
			return q
		})
	})
}
