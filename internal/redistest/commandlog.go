package redistest

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// CommandLog records the names of the commands a client sends, pipelined
// or not, lower-cased: add it with client.AddHook to assert how many
// calls, and which, an operation costs.
type CommandLog struct {
	mu    sync.Mutex
	names []string
}

var _ redis.Hook = (*CommandLog)(nil)

// DialHook implements redis.Hook.
func (l *CommandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (l *CommandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (l *CommandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}

func (l *CommandLog) add(c redis.Cmder) {
	l.mu.Lock()
	l.names = append(l.names, strings.ToLower(c.Name()))
	l.mu.Unlock()
}

// Take returns the names logged since the last Take, in order.
func (l *CommandLog) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.names
	l.names = nil
	return names
}

// Counts returns how many times each name was logged since the last Take
// or Counts, and starts again.
func (l *CommandLog) Counts() map[string]int {
	n := map[string]int{}
	for _, name := range l.Take() {
		n[name]++
	}
	return n
}
