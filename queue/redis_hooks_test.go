package queue_test

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// scriptCounter counts the scripts a client runs, pipelined or not; only,
// if set, picks the calls to count by their arguments.
type scriptCounter struct {
	n    *atomic.Int64
	only func(args []any) bool
}

func (scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		s.count(cmd)
		return next(ctx, cmd)
	}
}

func (s scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			s.count(c)
		}
		return next(ctx, cmds)
	}
}

func (s scriptCounter) count(cmd redis.Cmder) {
	if strings.HasPrefix(cmd.Name(), "eval") && (s.only == nil || s.only(cmd.Args())) {
		s.n.Add(1)
	}
}
