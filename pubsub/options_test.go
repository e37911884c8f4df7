package pubsub

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Compile-time: each option fits the constructors its doc names.
var (
	_ BusOption               = WithClock(time.Now)
	_ BusOption               = WithDrainTimeout(time.Second)
	_ BusOption               = WithDeadLetterTopic("dead")
	_ BusOption               = WithObserver(func(Event) {})
	_ BusOption               = WithLogger(nil)
	_ DeliveryOption          = WithWorkers(1)
	_ DeliveryOption          = WithMaxAttempts(1)
	_ DeliveryOption          = WithBackoff(0, 0)
	_ QueueOption             = WithQueueSize(1)
	_ QueueOption             = WithOverflow(OverflowBlock)
	_ RedisAndBroadcastOption = WithPrefix("p:")
	_ RedisAndBroadcastOption = WithNamespace("n")
	_ RedisAndBroadcastOption = WithTimeout(time.Second)
	_ RedisOption             = WithMaxLen(1)
	_ RedisOption             = WithVisibilityTimeout(time.Second)
	_ RedisOption             = WithReadBlock(time.Second)
	_ RedisOption             = WithBatch(1)
	_ SubscribeOption         = WithGroup("g")
	_ SubscribeOption         = WithConsumer("c")
	_ MemoryOption            = Option(nil) // the deprecated name
)

// TestOptionsDoNotFitOtherConstructors: what the compile-time assertions
// above cannot say, that a misfit does not compile, said through the
// method sets: an option implements exactly the interfaces of the
// constructors it fits.
func TestOptionsDoNotFitOtherConstructors(t *testing.T) {
	kinds := map[string]reflect.Type{
		"memory":    reflect.TypeFor[MemoryOption](),
		"redis":     reflect.TypeFor[RedisOption](),
		"broadcast": reflect.TypeFor[BroadcastOption](),
		"subscribe": reflect.TypeFor[SubscribeOption](),
	}
	for name, c := range map[string]struct {
		opt  any
		fits []string
	}{
		"WithClock":             {WithClock(time.Now), []string{"memory", "redis", "broadcast"}},
		"WithObserver":          {WithObserver(func(Event) {}), []string{"memory", "redis", "broadcast"}},
		"WithWorkers":           {WithWorkers(1), []string{"memory", "redis", "broadcast", "subscribe"}},
		"WithQueueSize":         {WithQueueSize(1), []string{"memory", "broadcast", "subscribe"}},
		"WithOverflow":          {WithOverflow(OverflowBlock), []string{"memory", "broadcast", "subscribe"}},
		"WithPrefix":            {WithPrefix("p:"), []string{"redis", "broadcast"}},
		"WithTimeout":           {WithTimeout(time.Second), []string{"redis", "broadcast"}},
		"WithMaxLen":            {WithMaxLen(1), []string{"redis"}},
		"WithVisibilityTimeout": {WithVisibilityTimeout(time.Second), []string{"redis"}},
		"WithReadBlock":         {WithReadBlock(time.Second), []string{"redis"}},
		"WithBatch":             {WithBatch(1), []string{"redis"}},
		"WithGroup":             {WithGroup("g"), []string{"subscribe"}},
		"WithConsumer":          {WithConsumer("c"), []string{"subscribe"}},
	} {
		var fits []string
		for _, k := range []string{"memory", "redis", "broadcast", "subscribe"} {
			if reflect.TypeOf(c.opt).Implements(kinds[k]) {
				fits = append(fits, k)
			}
		}
		require.Equal(t, c.fits, fits, name)
	}
}

func TestResolveSubscribeOptions(t *testing.T) {
	s, err := ResolveSubscribeOptions()
	require.NoError(t, err)
	require.Equal(t, SubscribeSettings{Workers: DefaultWorkers, MaxAttempts: DefaultMaxAttempts, BackoffMin: DefaultBackoffMin,
		BackoffMax: DefaultBackoffMax, QueueSize: DefaultQueueSize, Overflow: OverflowBlock}, s)
	s, err = ResolveSubscribeOptions(WithGroup("g"), WithWorkers(3), WithBackoff(0, time.Second), WithQueueSize(7))
	require.NoError(t, err)
	require.Equal(t, "g", s.Group)
	require.Equal(t, 3, s.Workers)
	require.Equal(t, time.Second, s.BackoffMax)
	require.Equal(t, 7, s.QueueSize)
	_, err = ResolveSubscribeOptions(WithWorkers(0))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = ResolveSubscribeOptions(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
}
