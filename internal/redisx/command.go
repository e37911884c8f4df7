package redisx

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Command runs one Redis command within the bound, args as for go-redis's
// Do ("get", key): pipelined with the concurrent calls on the bound's
// client, as Eval is, and sent on its own otherwise. It is for single
// commands with a plain reply (GET, SET, DEL, PUBLISH…), never for a
// blocking one (BLPOP, XREAD with BLOCK), which would hold up the
// pipeline it rides in. c must be the bound's client for the call to be
// pipelined. args must stay unchanged until the call returns; a call
// given up on at its deadline may still read them until go-redis is done.
func (b Bound) Command(ctx context.Context, c redis.UniversalClient, args ...any) *redis.Cmd {
	if err := ctx.Err(); err != nil {
		return failed(ctx, nil, err)
	}
	limit := b.limit(ctx)
	piped := b.pipe != nil && any(c) == any(b.client)
	if b.deadlines || (limit == 0 && ctx.Done() == nil) {
		if !piped {
			return commandInline(ctx, limit, c, args)
		}
		if h, ok := b.pipe.claim(deadlineOf(ctx, limit)); ok {
			cmd := commandInline(ctx, limit, c, args)
			b.pipe.finishAlone(h)
			return cmd
		}
	}
	w := getCall()
	w.ctx, w.client, w.command = ctx, c, args
	return b.send(ctx, limit, w, piped)
}

// commandInline runs a command on the caller's goroutine, under a ctx that
// carries the bound.
func commandInline(ctx context.Context, limit time.Duration, c redis.UniversalClient, args []any) *redis.Cmd {
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := c.Do(ctx, args...)
	if err := cmd.Err(); err != nil {
		cmd.SetErr(settle(ctx, err))
	}
	return cmd
}
