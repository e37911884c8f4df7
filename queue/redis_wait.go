package queue

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/backoff"
	"github.com/sysdesign/patterns/internal/redisx"
)

// listen is the wake-up listener: while Dequeues of this process are
// blocked, it blocks on the queue's wake-up list (BLPOP), which every
// Enqueue, Retry, Defer and release pushes to, and wakes one of them per
// entry popped. One connection per queue value, however many
// consumers wait, and no polling of the sets.
func (q *Redis) listen() {
	defer q.done.Done()
	pol := backoff.Policy{Min: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: backoff.Equal}
	failures := 0
	block := min(q.cfg.poll, maxBlock)
	blockArg := strconv.FormatFloat(block.Seconds(), 'f', 3, 64)
	bound := redisx.NewBound(q.c, q.cfg.timeout+block)
	for {
		select {
		case <-q.closing:
			return
		case <-q.want:
		}
		for q.blocked.Load() > 0 {
			_, err := redisx.Do(q.ctx, bound, func(ctx context.Context) ([]string, error) {
				return q.c.Do(ctx, "BLPOP", q.k.wake, blockArg).StringSlice()
			})
			switch {
			case q.closed.Load():
				return
			case err == nil:
				if !q.waiters.wakeOne(true) {
					// Its waiter was woken meanwhile: leave the wake-up for
					// another process rather than drop it.
					q.wakeOthers()
				}
			case errors.Is(err, redis.Nil):
			default:
				failures++
				q.health.failed(q, err)
				if backoff.Sleep(q.ctx, pol.Wait(failures)) != nil {
					return
				}
				continue
			}
			failures = 0
			q.health.ok(q)
		}
	}
}
