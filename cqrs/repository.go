package cqrs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
)

// Evolve applies one event to an aggregate's state and returns the new
// state. It must be deterministic — a function of the state and the event
// only — since a state is rebuilt by replaying the stream (or from a
// snapshot and the rest of it), and it must not modify the state it is
// given when S holds maps or slices that a snapshot or a caller may share.
type Evolve[S any] func(state S, e Event) (S, error)

// Decide looks at an aggregate's state and returns the events a command
// produces (none: nothing to do), or an error that rejects the command. It
// must not modify the state.
type Decide[S any] func(state S) ([]Event, error)

// Repository loads event-sourced aggregates of one kind, with state S,
// from an EventStore and appends what commands decide, with optimistic
// concurrency: Execute loads the stream (from a snapshot, when there is
// one), decides, and appends with the loaded version as the expected one,
// so two commands racing on one aggregate cannot both act on the same
// state. The loser gets ErrConflict or, with WithConflictRetries, is
// reloaded and decided again.
//
// An aggregate's stream is the prefix (WithStreamPrefix) followed by its
// id. The initial state is S's zero value. Safe for concurrent use.
type Repository[S any] struct {
	store      EventStore
	evolve     Evolve[S]
	prefix     string
	retries    int
	snaps      SnapshotStore
	every      int64
	snapSchema int
	onSnapErr  func(streamID string, err error)
	obs        observer

	commands, appended, retried, conflicts, snapFailures atomic.Uint64
}

// RepositoryStats counts what a Repository did since it was made.
type RepositoryStats struct {
	// Commands that appended events, and the events they appended.
	Commands, Appended uint64
	// ConflictsRetried: commands decided again after losing an append
	// race (WithConflictRetries); Conflicts: ErrConflict returned.
	ConflictsRetried, Conflicts uint64
	// SnapshotFailures: snapshots that could not be loaded, decoded or
	// saved (the aggregate was replayed from its events).
	SnapshotFailures uint64
}

// Stats returns the repository's counters (lock-free).
func (r *Repository[S]) Stats() RepositoryStats {
	return RepositoryStats{Commands: r.commands.Load(), Appended: r.appended.Load(),
		ConflictsRetried: r.retried.Load(), Conflicts: r.conflicts.Load(), SnapshotFailures: r.snapFailures.Load()}
}

// RepositoryOption configures a Repository (NewRepository):
// WithStreamPrefix, WithConflictRetries, WithSnapshots,
// WithSnapshotSchema, WithSnapshotErrors, WithObserver, WithLogger. It is
// sealed: an option of another constructor does not compile.
type RepositoryOption interface{ applyRepository(*repoConfig) error }

type repoOption func(*repoConfig) error

func (f repoOption) applyRepository(c *repoConfig) error { return f(c) }

type repoConfig struct {
	prefix     string
	retries    int
	snaps      SnapshotStore
	every      int
	snapSchema int
	onSnapErr  func(string, error)
	obs        observer
}

// WithStreamPrefix sets the prefix of the aggregates' stream ids (default
// none: the aggregate id is the stream id), e.g. "account-".
func WithStreamPrefix(p string) RepositoryOption {
	return repoOption(func(c *repoConfig) error {
		c.prefix = p
		return nil
	})
}

// WithConflictRetries makes Execute, on ErrConflict, reload the aggregate
// and decide again, up to n times (default 0: return the conflict). Only
// safe when the decision depends on nothing but the state.
func WithConflictRetries(n int) RepositoryOption {
	return repoOption(func(c *repoConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: WithConflictRetries(%d): must be ≥ 0", ErrInvalidConfig, n)
		}
		c.retries = n
		return nil
	})
}

// WithSnapshots turns snapshots on (default off): after an Execute that
// leaves the stream at least every events past its last snapshot, the
// state (S as JSON) is saved to ss, and loading starts from the snapshot
// and replays only the events after it. S must round-trip through
// encoding/json; a snapshot that does not decode is ignored (the stream
// is replayed in full), and so is one ahead of its stream (the event at
// the snapshot's version is read along to check it is there; a snapshot
// store must still not be shared by two event stores with common stream
// ids: a snapshot of the other stream's history at a version this one
// reaches cannot be told apart). Snapshots are an optimisation: an error
// saving one does not fail the command (see WithSnapshotErrors).
func WithSnapshots(ss SnapshotStore, every int) RepositoryOption {
	return repoOption(func(c *repoConfig) error {
		if ss == nil {
			return fmt.Errorf("%w: WithSnapshots(nil, %d)", ErrInvalidConfig, every)
		}
		if every < 1 {
			return fmt.Errorf("%w: WithSnapshots: every %d: must be ≥ 1", ErrInvalidConfig, every)
		}
		c.snaps, c.every = ss, every
		return nil
	})
}

// DefaultSnapshotSchema is the schema version of snapshots unless
// WithSnapshotSchema says otherwise.
const DefaultSnapshotSchema = 1

// WithSnapshotSchema sets the schema version of the snapshots' state
// (default DefaultSnapshotSchema). Raise it when S changes incompatibly: snapshots of other
// versions are then ignored, the streams replayed and snapshotted anew.
func WithSnapshotSchema(v int) RepositoryOption {
	return repoOption(func(c *repoConfig) error {
		if v < 1 {
			return fmt.Errorf("%w: WithSnapshotSchema(%d): must be ≥ 1", ErrInvalidConfig, v)
		}
		c.snapSchema = v
		return nil
	})
}

// WithSnapshotErrors sets a function called with errors of saving,
// loading or decoding snapshots, which are otherwise ignored (the
// aggregate is then replayed from its events). It is called alongside
// the observer (WithObserver, a SnapshotFailed Observation), which
// supersedes it.
func WithSnapshotErrors(fn func(streamID string, err error)) RepositoryOption {
	return repoOption(func(c *repoConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: WithSnapshotErrors(nil)", ErrInvalidConfig)
		}
		c.onSnapErr = fn
		return nil
	})
}

// NewRepository returns a repository of aggregates whose state evolve
// builds from their events, on store (wrap it in an UpcastingStore to
// upcast old events). Errors wrap ErrInvalidConfig.
func NewRepository[S any](store EventStore, evolve Evolve[S], opts ...RepositoryOption) (*Repository[S], error) {
	if store == nil {
		return nil, fmt.Errorf("%w: NewRepository: nil store", ErrInvalidConfig)
	}
	if evolve == nil {
		return nil, fmt.Errorf("%w: NewRepository: nil evolve", ErrInvalidConfig)
	}
	c := repoConfig{snapSchema: DefaultSnapshotSchema, onSnapErr: func(string, error) {}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: NewRepository: nil option", ErrInvalidConfig)
		}
		if err := o.applyRepository(&c); err != nil {
			return nil, err
		}
	}
	return &Repository[S]{store: store, evolve: evolve, prefix: c.prefix, retries: c.retries,
		snaps: c.snaps, every: int64(c.every), snapSchema: c.snapSchema, onSnapErr: c.onSnapErr, obs: c.obs}, nil
}

// snapErr reports a snapshot failure: to WithSnapshotErrors' function,
// the observer and the logger.
func (r *Repository[S]) snapErr(stream string, err error) {
	r.snapFailures.Add(1)
	r.onSnapErr(stream, err)
	r.obs.emit(Observation{Kind: SnapshotFailed, StreamID: stream, Err: err})
}

// StreamID returns the stream id of the aggregate id.
func (r *Repository[S]) StreamID(id string) string { return r.prefix + id }

// Load returns the aggregate's current state and version (0 and the zero
// state for an aggregate without events).
func (r *Repository[S]) Load(ctx context.Context, id string) (S, int64, error) {
	s, v, _, _, err := r.load(ctx, r.StreamID(id))
	return s, v, err
}

// load returns the state, its version, the version of the snapshot it
// started from (0: none) and the global position of the event at the
// version (0: none).
func (r *Repository[S]) load(ctx context.Context, stream string) (state S, version, snapVersion, position int64, err error) {
	if r.snaps != nil {
		snap, ok, err := r.snaps.LoadSnapshot(ctx, stream)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return state, 0, 0, 0, err
			}
			r.snapErr(stream, err)
		case ok && snap.Schema == r.snapSchema:
			var s S
			if err := json.Unmarshal(snap.Data, &s); err != nil {
				r.snapErr(stream, fmt.Errorf("cqrs: decoding snapshot of %q at %d: %w", stream, snap.Version, err))
				break
			}
			state, version, snapVersion = s, snap.Version, snap.Version
		}
	}
	// With a snapshot, read from its own version on: the event there
	// proves the stream reaches it. A snapshot ahead of its stream (the
	// store wiped or re-created, a snapshot store shared by stores with a
	// common stream id) is dropped and the stream replayed from 1: trusted,
	// it would make every Execute conflict.
	evs, err := r.store.Load(ctx, stream, max(version, 1))
	if err != nil {
		return state, 0, 0, 0, err
	}
	if version > 0 {
		if len(evs) == 0 || evs[0].Version != version {
			r.snapErr(stream, fmt.Errorf("cqrs: snapshot of %q at %d is ahead of the stream: ignored", stream, version))
			var zero S
			state, version, snapVersion = zero, 0, 0
			if evs, err = r.store.Load(ctx, stream, 1); err != nil {
				return state, 0, 0, 0, err
			}
		} else {
			position = evs[0].Position
			evs = evs[1:]
		}
	}
	for _, e := range evs {
		if state, err = r.evolve(state, e); err != nil {
			return state, 0, 0, 0, fmt.Errorf("cqrs: applying %s event %s@%d: %w", e.Type, stream, e.Version, err)
		}
		version, position = e.Version, e.Position
	}
	return state, version, snapVersion, position, nil
}

// Execute runs a command on the aggregate id: it loads the aggregate,
// calls decide with its state, and appends the events decide returns with
// the loaded version as the expected version. It returns the aggregate's
// version after the append, or decide's error as is (nothing appended), or
// ErrConflict when another writer appended first and the retries
// (WithConflictRetries) ran out.
func (r *Repository[S]) Execute(ctx context.Context, id string, decide Decide[S]) (int64, error) {
	a, err := r.ExecuteWithPosition(ctx, id, decide)
	return a.Version, err
}

// ExecuteWithPosition is Execute, returning also the global position of
// the aggregate's last event after the command (see Appended): wait for
// it with Runner.WaitFor to read the command's effect from a projection
// (read-your-writes). When decide appends nothing, it is the position of
// the last event decide saw, so the caller can still wait for the state
// it acted on. The position costs nothing more on a store that is a
// PositionAppender (MemoryStore, RedisStore, an UpcastingStore over
// one); on any other store, one read after the append.
func (r *Repository[S]) ExecuteWithPosition(ctx context.Context, id string, decide Decide[S]) (Appended, error) {
	if decide == nil {
		return Appended{}, fmt.Errorf("%w: Execute: nil decide", ErrInvalidArgument)
	}
	stream := r.StreamID(id)
	for attempt := 0; ; attempt++ {
		state, version, snapVersion, position, err := r.load(ctx, stream)
		if err != nil {
			return Appended{}, err
		}
		seen := Appended{Version: version, Position: position}
		evs, err := decide(state)
		if err != nil {
			return seen, err
		}
		if len(evs) == 0 {
			return seen, nil
		}
		a, err := AppendWithPosition(ctx, r.store, stream, version, evs...)
		newVersion := a.Version
		if err != nil && newVersion > version {
			// Appended, but its position could not be read back.
			r.commands.Add(1)
			r.appended.Add(uint64(len(evs)))
			return a, err
		}
		if err != nil {
			if errors.Is(err, ErrConflict) && attempt < r.retries && ctx.Err() == nil {
				r.retried.Add(1)
				r.obs.emit(Observation{Kind: ConflictRetried, StreamID: stream, Attempt: attempt + 1, Err: err})
				continue
			}
			if errors.Is(err, ErrConflict) {
				r.conflicts.Add(1)
			}
			return seen, err
		}
		r.commands.Add(1)
		r.appended.Add(uint64(len(evs)))
		if r.snaps != nil && newVersion-snapVersion >= r.every {
			r.snapshot(ctx, stream, state, version)
		}
		return a, nil
	}
}

// snapshot saves the state after the events past version: it reads them
// back from the store, so that the snapshot holds exactly what a replay
// gives (including what the store assigned, such as RecordedAt).
func (r *Repository[S]) snapshot(ctx context.Context, stream string, state S, version int64) {
	evs, err := r.store.Load(ctx, stream, version+1)
	if err != nil {
		r.snapErr(stream, err)
		return
	}
	for _, e := range evs {
		if state, err = r.evolve(state, e); err != nil {
			r.snapErr(stream, err)
			return
		}
		version = e.Version
	}
	data, err := json.Marshal(state)
	if err != nil {
		r.snapErr(stream, fmt.Errorf("cqrs: encoding snapshot of %q: %w", stream, err))
		return
	}
	if err := r.snaps.SaveSnapshot(ctx, Snapshot{StreamID: stream, Version: version, Schema: r.snapSchema, Data: data}); err != nil {
		r.snapErr(stream, err)
	}
}
