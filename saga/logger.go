package saga

import (
	"context"
	"log/slog"
)

// WithLogger sets a logger for the transitions an operator must see
// (nil, the default, logs nothing). Retries log at Warn, a
// compensation that gave up and a saga that ended Failed at Error (it
// needs a human), a saga a recovering process finished at Info, and a
// saga stopped by its log failing at Warn. Attributes: saga, id, step,
// attempt, backoff, status, err; never the saga's data. The logger is
// called from the goroutine running the saga, as the observer is.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		c.logger = l
		return nil
	})
}

// logEvent logs the events of WithLogger's list; the others are left to
// the observer.
func logEvent(l *slog.Logger, e Event) {
	if l == nil {
		return
	}
	ctx := context.Background()
	switch {
	case e.Kind == Retrying:
		l.LogAttrs(ctx, slog.LevelWarn, "saga: retrying a step",
			slog.String("saga", e.Saga), slog.String("id", e.ID), slog.String("step", e.StepName),
			slog.Int("attempt", e.Attempts), slog.Duration("backoff", e.Backoff), slog.Any("err", e.Err))
	case e.Kind == CompensationFailed:
		l.LogAttrs(ctx, slog.LevelError, "saga: a compensation gave up",
			slog.String("saga", e.Saga), slog.String("id", e.ID), slog.String("step", e.StepName),
			slog.Int("attempt", e.Attempts), slog.Any("err", e.Err))
	case e.Kind == Finished && e.Status == Failed:
		l.LogAttrs(ctx, slog.LevelError, "saga: failed, an operator must act",
			slog.String("saga", e.Saga), slog.String("id", e.ID), slog.String("step", e.StepName),
			slog.String("status", e.Status.String()), slog.Any("err", e.Err))
	case e.Kind == Finished && e.Recovered:
		l.LogAttrs(ctx, slog.LevelInfo, "saga: recovered",
			slog.String("saga", e.Saga), slog.String("id", e.ID), slog.String("status", e.Status.String()))
	}
}

// logStopped logs a run that stopped unfinished because its log failed
// or another process took the saga over.
func logStopped(l *slog.Logger, saga, id string, err error) {
	if l == nil {
		return
	}
	l.LogAttrs(context.Background(), slog.LevelWarn, "saga: stopped unfinished",
		slog.String("saga", saga), slog.String("id", id), slog.Any("err", err))
}
