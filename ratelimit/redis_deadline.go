package ratelimit

import (
	"context"
)

type reply struct {
	text string
	err  error
}

// runBounded runs the script so that the call returns by ctx's deadline
// even on a client that ignores it: the call proceeds in a goroutine, which
// ends by itself at the client's own ReadTimeout if the caller gave up.
// It releases c once go-redis is done with it.
//
// This is redisx.Do specialised for the decision hot path: Do takes a
// func, and the closure over r and c would cost an allocation per
// decision.
func (r *Redis) runBounded(ctx context.Context, c *call) (string, error) {
	if r.deadlines || r.timeout == 0 {
		defer c.release()
		return r.script.Run(ctx, r.client, c.keys[:c.keyc], c.args[:c.argc]...).Text()
	}
	done := make(chan reply, 1)
	go func() {
		defer c.release() // only here: the caller may have given up on us
		text, err := r.script.Run(ctx, r.client, c.keys[:c.keyc], c.args[:c.argc]...).Text()
		done <- reply{text, err}
	}()
	select {
	case rep := <-done:
		return rep.text, rep.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
