package cqrs

import (
	"context"
	"fmt"
)

// Projection is a read model built from the global order of events, with
// a stored checkpoint: the position of the last event it applied. A Runner
// feeds it: it reads the log after the checkpoint and calls Apply, so a
// projection that was down catches up from where it stopped.
//
// Delivery is as exact as the projection makes it. MemoryReadModel and
// RedisReadModel store their changes and the checkpoint in one atomic step
// (a lock; one Lua script), so each event takes effect exactly once, even
// with two runners racing. FuncProjection saves the checkpoint after its
// handler ran: at least once, a crash in between replays up to a batch.
type Projection interface {
	// Name identifies the projection (and its checkpoint).
	Name() string
	// Checkpoint returns the position of the last event applied (0: none).
	Checkpoint(ctx context.Context) (int64, error)
	// Apply applies events, which are consecutive in the global order, and
	// moves the checkpoint to the last one. Events at or before the
	// checkpoint are skipped (already applied). When the first event is
	// past checkpoint+1, or the checkpoint moved while Apply ran (another
	// runner, a Rebuild swapped in), Apply applies nothing and returns
	// ErrCheckpointMoved. On any error, nothing of the events that follow
	// the stored checkpoint counts as applied.
	Apply(ctx context.Context, events []Event) error
}

// Rebuilder is a Projection that can be built anew from position 1 into a
// copy readers do not see, and swapped in when the copy has caught up
// (Runner.Rebuild). Readers see the old copy until the swap, the new one
// after it, nothing in between. Users call Runner.Rebuild, not this; it is
// exported, with Build, so that a projection written outside the package
// (a search index, a SQL table) can be rebuilt by a Runner too.
type Rebuilder interface {
	Projection
	// NewBuild returns an empty copy of the projection, at checkpoint 0.
	// A later NewBuild supersedes it (its Apply and Swap then fail).
	NewBuild(ctx context.Context) (Build, error)
}

// Build is a copy of a projection being rebuilt, returned by
// Rebuilder.NewBuild and driven by Runner.Rebuild (exported for
// Rebuilders written outside the package).
type Build interface {
	// Checkpoint and Apply are those of Projection, on the copy.
	Checkpoint(ctx context.Context) (int64, error)
	Apply(ctx context.Context, events []Event) error
	// Swap makes the copy, with its checkpoint, the projection's, and
	// drops the old one, atomically. A runner of the projection that
	// applied events past the copy's checkpoint gets ErrCheckpointMoved
	// and applies them again, to the new copy.
	Swap(ctx context.Context) error
	// Discard drops the copy.
	Discard(ctx context.Context) error
}

// RangeApplier is a Projection (or a Build) that can apply a filtered
// batch: a Runner with WithEventFilter hands it only the events of the
// log's positions from..through that pass the filter, and it moves its
// checkpoint to through all the same. MemoryReadModel and RedisReadModel
// (and their builds) implement it. Users do not call it; it is exported so
// that a projection written outside the package can take filtered
// batches too.
type RangeApplier interface {
	// ApplyRange applies events, which are in global order and within
	// from..through (any of them may be missing), and moves the checkpoint
	// to through. Like Apply, events at or before the checkpoint are
	// skipped, and when from is past checkpoint+1 it applies nothing and
	// returns ErrCheckpointMoved.
	ApplyRange(ctx context.Context, from, through int64, events []Event) error
}

// skipRange returns the events of from..through after checkpoint cp, or
// ErrCheckpointMoved when the range does not follow cp; done reports that
// the whole range is applied already.
func skipRange(name string, from, through int64, events []Event, cp int64) (_ []Event, done bool, err error) {
	if through <= cp {
		return nil, true, nil
	}
	if from > cp+1 {
		return nil, false, fmt.Errorf("%w: %s is at %d, events start at %d", ErrCheckpointMoved, name, cp, from)
	}
	for len(events) > 0 && events[0].Position <= cp {
		events = events[1:]
	}
	return events, false, nil
}

// batchRange returns the positions a consecutive batch spans.
func batchRange(events []Event) (from, through int64) {
	if len(events) == 0 {
		return 0, 0
	}
	return events[0].Position, events[len(events)-1].Position
}

// skipApplied returns the events after checkpoint cp, or
// ErrCheckpointMoved when they do not follow it.
func skipApplied(name string, events []Event, cp int64) ([]Event, error) {
	for len(events) > 0 && events[0].Position <= cp {
		events = events[1:]
	}
	if len(events) > 0 && events[0].Position != cp+1 {
		return nil, fmt.Errorf("%w: %s is at %d, events start at %d", ErrCheckpointMoved, name, cp, events[0].Position)
	}
	return events, nil
}

// CheckpointStore keeps the checkpoints of FuncProjections.
type CheckpointStore interface {
	// LoadCheckpoint returns the named projection's checkpoint (0: none).
	LoadCheckpoint(ctx context.Context, name string) (int64, error)
	// SaveCheckpoint sets it.
	SaveCheckpoint(ctx context.Context, name string, pos int64) error
}

// FuncProjection is a Projection that calls a function for every event
// and keeps its checkpoint in a CheckpointStore, which it saves after each
// batch: delivery is at least once — a crash between the function and the
// save replays up to a batch (WithBatchSize) — so the function must be
// idempotent (an upsert keyed by the event's position or id). Use it to
// feed what this package does not model: a search index, a SQL table, an
// outgoing queue. Run one Runner per FuncProjection.
type FuncProjection struct {
	name string
	cps  CheckpointStore
	fn   func(ctx context.Context, e Event) error
}

var _ Projection = (*FuncProjection)(nil)

// NewFuncProjection returns a projection named name that calls fn for
// every event, with its checkpoint in cps.
func NewFuncProjection(name string, cps CheckpointStore, fn func(ctx context.Context, e Event) error) (*FuncProjection, error) {
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: NewFuncProjection: empty name", ErrInvalidConfig)
	case cps == nil:
		return nil, fmt.Errorf("%w: NewFuncProjection(%q): nil checkpoint store", ErrInvalidConfig, name)
	case fn == nil:
		return nil, fmt.Errorf("%w: NewFuncProjection(%q): nil function", ErrInvalidConfig, name)
	}
	return &FuncProjection{name: name, cps: cps, fn: fn}, nil
}

// Name implements Projection.
func (p *FuncProjection) Name() string { return p.name }

// Checkpoint implements Projection.
func (p *FuncProjection) Checkpoint(ctx context.Context) (int64, error) {
	return p.cps.LoadCheckpoint(ctx, p.name)
}

// Apply implements Projection: it calls the function for each event
// after the checkpoint, then saves the checkpoint. When the function
// fails, the checkpoint of the events before the failing one is saved.
func (p *FuncProjection) Apply(ctx context.Context, events []Event) error {
	cp, err := p.cps.LoadCheckpoint(ctx, p.name)
	if err != nil {
		return err
	}
	events, err = skipApplied(p.name, events, cp)
	if err != nil || len(events) == 0 {
		return err
	}
	done := cp
	var ferr error
	for _, e := range events {
		if ferr = p.fn(ctx, e); ferr != nil {
			ferr = fmt.Errorf("cqrs: projection %s: %s event %s@%d (position %d): %w", p.name, e.Type, e.StreamID, e.Version, e.Position, ferr)
			break
		}
		done = e.Position
	}
	if done > cp {
		if err := p.cps.SaveCheckpoint(ctx, p.name, done); err != nil && ferr == nil {
			return err
		}
	}
	return ferr
}
