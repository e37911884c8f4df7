package saga

import (
	"context"
	"fmt"
)

// MaxMetadataSize bounds what a WithMetadata function may return: the keys'
// and values' bytes together. A saga's metadata is written to the log with
// its first transition, so it is meant for a few short strings (a trace
// context, a tenant), not for data.
const MaxMetadataSize = 4096

// WithMetadata sets a function that Execute calls once per new execution,
// with its ctx, before anything is logged: the map it returns (nil for
// none) is stored in the log with the Started entry (Entry.Metadata) and
// handed to every step of the execution through StepInfo.Metadata — also
// when another process finishes the saga after a crash, which is the point:
// package github.com/sysdesign/patterns/otel stores the W3C trace context
// this way, so that the steps Recover runs link to the request that started
// the saga. The function must be quick and must not keep the map; a map
// larger than MaxMetadataSize fails the Execute with an error wrapping
// ErrInvalidConfig, before anything runs. Without WithMetadata (the default)
// nothing is stored and nothing is called. A Log implemented outside this
// package must keep Entry.Metadata for this to survive a crash (MemoryLog
// and RedisLog do).
func WithMetadata(fn func(ctx context.Context) map[string]string) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithMetadata(nil)", ErrInvalidConfig)
		}
		c.metadata = fn
		return nil
	})
}

// metadataSize is the bytes of m's keys and values.
func metadataSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// metadataFunc is WithMetadata's function.
type metadataFunc = func(ctx context.Context) map[string]string
