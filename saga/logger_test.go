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

func TestLoggerLogsRetriesAndFailuresNotData(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	type secret struct{ Card string }
	boom := errors.New("refund service down")
	steps := []Step[secret]{
		{Name: "charge", Action: func(context.Context, *secret) error { return nil },
			Compensate: func(context.Context, *secret) error { return boom }},
		{Name: "ship", Action: func(context.Context, *secret) error { return Permanent(errors.New("no stock")) }},
	}
	s, err := New("order", steps, WithLogger(l),
		WithCompensationPolicy(Policy{MaxAttempts: 3, Backoff: time.Microsecond}))
	require.NoError(t, err)
	_, err = s.Execute(context.Background(), "o-1", secret{Card: "card-secret-qzx"})
	require.ErrorIs(t, err, ErrFailed)

	lines := logtest.Records(t, buf.String())
	var msgs []string
	for _, m := range lines {
		msgs = append(msgs, m["level"].(string)+" "+m["msg"].(string))
		assert.Equal(t, "order", m["saga"])
		assert.Equal(t, "o-1", m["id"])
	}
	assert.Equal(t, []string{
		"WARN saga: retrying a step", "WARN saga: retrying a step",
		"ERROR saga: a compensation gave up", "ERROR saga: failed, an operator must act",
	}, msgs)
	assert.Equal(t, "charge", lines[0]["step"])
	assert.Contains(t, lines[2]["err"], "refund service down")
	assert.NotContains(t, buf.String(), "card-secret-qzx", "the saga's data must never be logged")
}

func TestLoggerSilentOnSuccessAndNilRefused(t *testing.T) {
	var buf bytes.Buffer
	s, err := New("ok", []Step[int]{{Name: "a", Action: func(context.Context, *int) error { return nil }}},
		WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	require.NoError(t, err)
	_, err = s.Execute(context.Background(), "1", 0)
	require.NoError(t, err)
	assert.Empty(t, buf.String(), "a completed saga logs nothing")

	// nil, as in every package, is the default: nothing is logged.
	s, err = New("ok", []Step[int]{{Name: "a", Action: func(context.Context, *int) error { return errors.New("boom") }}}, WithLogger(nil))
	require.NoError(t, err)
	_, err = s.Execute(context.Background(), "2", 0)
	require.ErrorIs(t, err, ErrCompensated)
}

func TestLoggerLogsStoppedRun(t *testing.T) {
	var buf bytes.Buffer
	ml, err := NewMemoryLog()
	require.NoError(t, err)
	s, err := New("stop", []Step[int]{{Name: "a", Action: func(context.Context, *int) error { return nil }}},
		WithLog(failingAppendLog{ml}), WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	require.NoError(t, err)
	res, err := s.Execute(context.Background(), "1", 0)
	require.Error(t, err)
	assert.Equal(t, Running, res.Status)
	lines := logtest.Records(t, buf.String())
	require.Len(t, lines, 1)
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "saga: stopped unfinished", lines[0]["msg"])
}

// failingAppendLog creates sagas but fails every later write.
type failingAppendLog struct{ Log }

func (failingAppendLog) Append(context.Context, string, string, int64, time.Duration, []Entry) error {
	return errors.New("log unreachable")
}
