package breaker

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{FailureThreshold: -1}, "FailureThreshold must not be negative, got -1"},
		{Config{FailureThreshold: 1 << 30}, "FailureThreshold must be at most"},
		{Config{OpenTimeout: -time.Second}, "OpenTimeout must not be negative, got -1s"},
		{Config{HalfOpenMaxCalls: -2}, "HalfOpenMaxCalls must not be negative"},
		{Config{HalfOpenMaxCalls: 1<<20 + 1}, "HalfOpenMaxCalls must be at most"},
		{Config{FailureRateThreshold: -0.1}, "FailureRateThreshold must be in (0, 1] (0 disables it), got -0.1"},
		{Config{FailureRateThreshold: 1.5}, "FailureRateThreshold must be in (0, 1]"},
		{Config{FailureRateThreshold: math.NaN()}, "FailureRateThreshold must be in (0, 1]"},
		{Config{SlowCallRateThreshold: 2, SlowCallDuration: time.Second}, "SlowCallRateThreshold must be in (0, 1]"},
		{Config{SlowCallRateThreshold: 0.5}, "SlowCallRateThreshold needs SlowCallDuration"},
		{Config{SlowCallDuration: -time.Second}, "SlowCallDuration must not be negative"},
		{Config{WindowSize: -1}, "WindowSize must not be negative"},
		{Config{WindowDuration: -time.Second}, "WindowDuration must not be negative"},
		{Config{WindowSize: 10, WindowDuration: time.Second}, "not both"},
		{Config{MinimumCalls: -1}, "MinimumCalls must not be negative"},
		{Config{FailureRateThreshold: 0.5, WindowSize: 10, MinimumCalls: 11}, "MinimumCalls (11) must not exceed WindowSize (10)"},
		{Config{MinimumCalls: 5}, "MinimumCalls applies to a sliding window"},
		{Config{Store: &RedisStore{}}, "Name is required with a Store"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, c.want)
		require.ErrorContains(t, err, c.want)
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := Config{}.settings()
	require.NoError(t, err)
	require.Equal(t, 5, s.FailureThreshold)
	require.Equal(t, 30*time.Second, s.OpenTimeout)
	require.Equal(t, 1, s.HalfOpenMaxCalls)
	require.False(t, s.windowed)
	require.False(t, s.IsFailure(context.Canceled))
	require.True(t, s.IsFailure(errors.New("x")))
	require.True(t, s.IsFailure(context.DeadlineExceeded))

	s, err = Config{FailureRateThreshold: 0.5}.settings()
	require.NoError(t, err)
	require.Equal(t, 100, s.WindowSize)
	require.Equal(t, 20, s.MinimumCalls)

	s, err = Config{WindowSize: 8}.settings() // a window for the metrics only
	require.NoError(t, err)
	require.Equal(t, 8, s.MinimumCalls)

	s, err = Config{SlowCallRateThreshold: 1, SlowCallDuration: time.Second, WindowDuration: time.Minute}.settings()
	require.NoError(t, err)
	require.Equal(t, 0, s.WindowSize)
	require.Equal(t, 20, s.MinimumCalls)
}

func TestStateString(t *testing.T) {
	require.Equal(t, "closed", Closed.String())
	require.Equal(t, "half-open", HalfOpen.String())
	require.Equal(t, "open", Open.String())
	require.Equal(t, "State(7)", State(7).String())
}

func TestOpenErrorWithoutName(t *testing.T) {
	clk := newFakeClock()
	b, err := New(Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Minute})
	require.NoError(t, err)
	mustRun(t, b, fail)
	err = mustReject(t, b, ErrOpen)
	require.Equal(t, "breaker: circuit open, next probe in 1m0s", err.Error())
	first := err
	clk.Advance(2 * time.Minute)
	var oe *OpenError
	require.ErrorAs(t, first, &oe)
	require.Zero(t, oe.RetryAfter(), "past the open period")
	require.Equal(t, clk.Now().Add(-time.Minute), oe.Until)
}

func TestRejectionReusesItsError(t *testing.T) {
	clk := newFakeClock()
	b, err := New(Config{Clock: clk.Now, FailureThreshold: 1})
	require.NoError(t, err)
	mustRun(t, b, fail)
	e1 := b.Execute(context.Background(), ok)
	e2 := b.Execute(context.Background(), ok)
	require.Same(t, e1.(*OpenError), e2.(*OpenError))
	allocs := testing.AllocsPerRun(100, func() { _ = b.Execute(context.Background(), ok) })
	require.Zero(t, allocs)
}

func TestClosedCallsDoNotAllocate(t *testing.T) {
	b, err := New(Config{})
	require.NoError(t, err)
	ctx := context.Background()
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Execute(ctx, ok) }))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		_, _ = Do(ctx, b, func(context.Context) (int, error) { return 1, nil })
	}))
}
