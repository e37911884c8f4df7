package breaker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Readers of State and Metrics race callers through every state while the
// clock moves: every transition is reported exactly once, to both hooks,
// as one unbroken chain (each change starts where the last one ended).
func TestConcurrentObservationReportsEachTransitionOnce(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var chain, hooked []change
	b := newMemory(t, Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: time.Millisecond, HalfOpenMaxCalls: 2,
		Observer: func(e Event) {
			if e.Kind == EventStateChange {
				mu.Lock()
				chain = append(chain, change{e.From, e.To})
				mu.Unlock()
			}
		},
		OnStateChange: func(_ string, from, to State) {
			mu.Lock()
			hooked = append(hooked, change{from, to})
			mu.Unlock()
		}})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1500 {
				switch g % 3 {
				case 0: // a dashboard
					_ = b.State()
					_ = b.Metrics()
				case 1: // callers
					_ = b.Execute(context.Background(), func(context.Context) error {
						if (i/30+g)%3 != 0 {
							return errBoom
						}
						return nil
					})
				case 2: // time
					if i%10 == 0 {
						clk.Advance(time.Millisecond / 2)
					}
					_ = b.State()
				}
			}
		}()
	}
	wg.Wait()
	final := b.State() // may itself make a transition: read it before taking mu
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, chain, hooked, "OnStateChange and Observer see the same changes in the same order")
	require.Equal(t, uint64(len(chain)), b.Metrics().Transitions)
	require.NotEmpty(t, chain)
	at := Closed
	for i, c := range chain {
		require.Equal(t, at, c.from, "change %d starts where the last ended", i)
		require.NotEqual(t, c.from, c.to)
		if c.from == Open {
			require.Equal(t, HalfOpen, c.to, "open only ends in half-open")
		}
		at = c.to
	}
	require.Equal(t, at, final)
}
