package cqrs

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// ObservationKind says what an Observation reports.
type ObservationKind int

// The kinds of Observation.
const (
	// ReadFailed: a Runner could not read the log or the projection's
	// checkpoint; it retries after Backoff.
	ReadFailed ObservationKind = iota + 1
	// ApplyFailed: a projection's Apply failed (a poison event, its store
	// down); the Runner retries the batch after Backoff.
	ApplyFailed
	// StoreBehind: the store's head is behind the projection's checkpoint:
	// the store lost events (a Redis restarted without persistence).
	StoreBehind
	// Rebuilt: Rebuild swapped a fresh copy of the projection in (Err nil)
	// or gave up (Err set).
	Rebuilt
	// ConflictRetried: a Repository's command lost an append race
	// (ErrConflict) and is decided again on the reloaded aggregate.
	ConflictRetried
	// SnapshotFailed: a Repository could not load, decode or save a
	// snapshot; the aggregate is replayed from its events instead.
	SnapshotFailed
)

var observationKindNames = [...]string{
	ReadFailed: "read-failed", ApplyFailed: "apply-failed", StoreBehind: "store-behind",
	Rebuilt: "rebuilt", ConflictRetried: "conflict-retried", SnapshotFailed: "snapshot-failed",
}

// String returns the identifier in lower-kebab case, e.g. "store-behind".
func (k ObservationKind) String() string {
	if k > 0 && int(k) < len(observationKindNames) {
		return observationKindNames[k]
	}
	return fmt.Sprintf("ObservationKind(%d)", int(k))
}

// Observation is what a Runner or a Repository reports to the observer of
// WithObserver. (The package's Event is the domain event of the store;
// hence the name.)
type Observation struct {
	Kind ObservationKind
	// Projection names the Runner's projection; "" from a Repository.
	Projection string
	// StreamID is the aggregate's stream (ConflictRetried,
	// SnapshotFailed); "" from a Runner.
	StreamID string
	// Position is the projection's checkpoint as the Runner knew it (for
	// StoreBehind: the checkpoint ahead of the store), Head the store's
	// head when it was read (StoreBehind), else 0.
	Position, Head int64
	// Attempt counts failures in a row (ReadFailed, ApplyFailed) or the
	// retry of a command (ConflictRetried), from 1.
	Attempt int
	// Backoff is the wait before the Runner's next try.
	Backoff time.Duration
	// Err is the error reported; nil for a Rebuilt that succeeded.
	Err error
}

// observer is the WithObserver and WithLogger pair shared by Runner and
// Repository.
type observer struct {
	fn     func(Observation)
	logger *slog.Logger
}

// ObserverOption fits both NewRunner and NewRepository: WithObserver,
// WithLogger.
type ObserverOption interface {
	RunnerOption
	RepositoryOption
}

type observerOption func(*observer) error

func (f observerOption) applyRunner(c *runnerConfig) error   { return f(&c.obs) }
func (f observerOption) applyRepository(c *repoConfig) error { return f(&c.obs) }

// WithObserver sets a function called with every Observation, on the
// goroutine where it happens (Run's, Execute's) and never under a lock:
// keep it quick (count, log), it delays the runner or the command.
// WithOnError and WithSnapshotErrors, when set, are called alongside it.
func WithObserver(fn func(Observation)) ObserverOption {
	return observerOption(func(o *observer) error {
		if fn == nil {
			return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
		}
		o.fn = fn
		return nil
	})
}

// WithLogger sets a logger for what an operator must see (nil, the
// default, logs nothing): failed reads and applies, conflicts retried and
// snapshot failures at Warn, a store behind its projections and a failed
// rebuild at Error, a rebuild at Info. Attributes: kind, projection,
// stream, position, head, attempt, backoff, err; never event data.
func WithLogger(l *slog.Logger) ObserverOption {
	return observerOption(func(o *observer) error {
		o.logger = l
		return nil
	})
}

// emit hands ob to the observer and the logger.
func (o *observer) emit(ob Observation) {
	if o.fn != nil {
		o.fn(ob)
	}
	if o.logger == nil {
		return
	}
	level := slog.LevelWarn
	switch {
	case ob.Kind == StoreBehind, ob.Kind == Rebuilt && ob.Err != nil:
		level = slog.LevelError
	case ob.Kind == Rebuilt:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("kind", ob.Kind.String())}
	if ob.Projection != "" {
		attrs = append(attrs, slog.String("projection", ob.Projection), slog.Int64("position", ob.Position))
	}
	if ob.StreamID != "" {
		attrs = append(attrs, slog.String("stream", ob.StreamID))
	}
	if ob.Kind == StoreBehind {
		attrs = append(attrs, slog.Int64("head", ob.Head))
	}
	if ob.Attempt > 0 {
		attrs = append(attrs, slog.Int("attempt", ob.Attempt))
	}
	if ob.Backoff > 0 {
		attrs = append(attrs, slog.Duration("backoff", ob.Backoff))
	}
	if ob.Err != nil {
		attrs = append(attrs, slog.Any("err", ob.Err))
	}
	o.logger.LogAttrs(context.Background(), level, "cqrs: "+ob.Kind.String(), attrs...)
}
