package saga

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/logtest"
)

// statSteps: step "a" fails its first fails tries; "b" fails when
// failB; a's compensation fails when failUndo.
func statSteps(fails *int, failB, failUndo *bool) []Step[int] {
	return []Step[int]{
		{Name: "a", Action: func(context.Context, *int) error {
			if *fails > 0 {
				*fails--
				return errors.New("flaky")
			}
			return nil
		}, Compensate: func(context.Context, *int) error {
			if *failUndo {
				return errors.New("stuck")
			}
			return nil
		}},
		{Name: "b", Action: func(context.Context, *int) error {
			if *failB {
				return Permanent(errors.New("declined"))
			}
			return nil
		}},
	}
}

func TestStatsCountOutcomes(t *testing.T) {
	ctx := context.Background()
	fails, failB, failUndo := 1, false, false
	s, err := New("stats", statSteps(&fails, &failB, &failUndo),
		WithActionPolicy(Policy{MaxAttempts: 2, Backoff: time.Microsecond}),
		WithCompensationPolicy(Policy{MaxAttempts: 1}))
	require.NoError(t, err)

	_, err = s.Execute(ctx, "1", 0) // a retried once, then completes
	require.NoError(t, err)
	_, err = s.Execute(ctx, "1", 0) // replayed
	require.NoError(t, err)
	failB = true
	_, err = s.Execute(ctx, "2", 0) // compensated
	require.ErrorIs(t, err, ErrCompensated)
	failUndo = true
	_, err = s.Execute(ctx, "3", 0) // failed
	require.ErrorIs(t, err, ErrFailed)

	assert.Equal(t, Stats{Started: 3, Completed: 1, Compensated: 1, Failed: 1, Retries: 1, Replayed: 1}, s.Stats())
}

// A run stopped by its log counts as Stopped; the process that recovers
// it counts it Recovered and logs it at Info.
func TestStatsAndLoggerOnRecovery(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	ml, err := NewMemoryLog(WithClock(clock.Now))
	require.NoError(t, err)
	fails, failB, failUndo := 0, false, false
	first, err := New("rec", statSteps(&fails, &failB, &failUndo), WithLog(failingAppendLog{ml}), WithClock(clock.Now))
	require.NoError(t, err)
	_, err = first.Execute(ctx, "1", 0)
	require.Error(t, err)
	assert.Equal(t, Stats{Started: 1, Stopped: 1}, first.Stats())

	var logs bytes.Buffer
	second, err := New("rec", statSteps(&fails, &failB, &failUndo), WithLog(ml), WithClock(clock.Now),
		WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	require.NoError(t, err)
	clock.Advance(DefaultLease + time.Second)
	res, err := second.Recover(ctx)
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, Compensated, res[0].Status, "RollBack undoes the step whose outcome is unknown")
	assert.Equal(t, Stats{Compensated: 1, Recovered: 1}, second.Stats())
	lines := logtest.Records(t, logs.String())
	require.Len(t, lines, 1)
	assert.Equal(t, "INFO", lines[0]["level"])
	assert.Equal(t, "saga: recovered", lines[0]["msg"])
	assert.Equal(t, "compensated", lines[0]["status"])
}
