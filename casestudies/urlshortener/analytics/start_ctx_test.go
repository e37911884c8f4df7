package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// A service bounds Start with a timeout (main does: 30 s); the consumer
// must outlive it, though a bus ends a subscription with its Subscribe ctx.
func TestConsumingOutlivesStartsContext(t *testing.T) {
	bus := pubsub.NewMemory()
	t.Cleanup(func() { _ = bus.Close() })
	a, err := New(Config{Bus: bus, Store: cqrs.NewMemoryStore()})
	require.NoError(t, err)
	startCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	require.NoError(t, a.Start(startCtx))
	cancel() // Start's ctx is over
	t.Cleanup(func() {
		ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = a.Close(ctx)
	})

	for range 3 {
		record(t, a, Click{Code: "abc1234", At: day1, UserAgent: chrome})
	}
	flush(t, a)
	assert.Equal(t, int64(3), stats(t, a, "abc1234").Total)
}
