// Package cqrs implements command-query responsibility segregation with
// event sourcing: commands go to aggregates, whose decisions are stored
// as events in an append-only EventStore; queries are answered from read
// models (projections) built from those events; nothing on the read side
// touches the write side.
//
// The happy path:
//
//	store := cqrs.NewMemoryStore()                       // or cqrs.NewRedisStore(client)
//	accounts, _ := cqrs.NewRepository(store, evolve, cqrs.WithStreamPrefix("account-"))
//	_, err := accounts.Execute(ctx, "42", func(a Account) ([]cqrs.Event, error) { return a.Withdraw(10) })
//	balances, _ := cqrs.NewMemoryReadModel("balances", onEvent) // or cqrs.NewRedisReadModel
//	runner, _ := cqrs.NewRunner(store, balances); go runner.Run(ctx) // then balances.Get(ctx, "account-42")
//
// # When to use it
//
// Use event sourcing when the history is the point — ledgers, orders,
// anything audited — or when one write must feed several differently
// shaped reads (a balance, a statement, a search index) that can each be
// rebuilt from the full history when their shape changes. Do not use it
// for plain CRUD data: it costs a replay per command (bounded by
// snapshots), schema evolution of events that can never be changed, and
// reads that lag writes by the projection's delay (milliseconds here;
// Repository.ExecuteWithPosition returns the global position of what a
// command appended, and Runner.WaitFor on it gives read-your-writes when a
// caller needs it — except for a moment while a Rebuild swaps a copy in:
// the swapped-in copy's checkpoint may be behind the old one's until
// Rebuild has caught it up).
//
// # Write side
//
// An EventStore appends events to streams (one per aggregate) with an
// expected version — AnyVersion, NoStream, StreamExists or an exact
// version — and refuses a stale one with ErrConflict, carrying the
// stream's actual version (*ConflictError): of two writers that decided on
// the same state, exactly one wins. An append is atomic and takes the
// events' global Positions in the same step, so the global order (ReadAll)
// starts at 1, has no gaps and never shows part of an append. Events may
// carry ids (Event.WithID): an exact retry of an append that already
// happened (a reply lost to a timeout) is then a no-op that returns the
// same version.
//
// Repository[S] runs a command: it loads the aggregate's state S by
// replaying its stream through an Evolve function (from a snapshot when
// WithSnapshots is on), calls a Decide function, and appends the events it
// returns with the loaded version as the expected one
// (WithConflictRetries: reload and decide again on conflict). CommandBus
// routes typed commands to one handler each (Handle, Dispatch).
//
// # Read side
//
// A Projection has a name, a stored checkpoint (the position of the last
// event it applied) and Apply. A Runner feeds it: Run reads the global
// order from the checkpoint in batches, then follows new events as they
// come (woken by the store: a channel for MemoryStore, a blocking XREAD for
// RedisStore) until its ctx is cancelled; a projection that was down
// catches up from its checkpoint. Runner.Rebuild builds a fresh copy from
// position 1 and swaps it in, for a projection whose logic changed.
// WithEventFilter shows a projection only the event types and streams it
// wants (the others are still read, but neither decoded nor applied).
//
// MemoryReadModel and RedisReadModel are key-value read models written
// through a ModelHandler; they store a batch's changes and its checkpoint
// in one atomic step (a lock; one Lua script that also checks the
// checkpoint has not moved), so every event takes effect exactly once,
// even with two runners or a crash mid-batch. FuncProjection calls a
// function per event and saves its checkpoint after each batch: at least
// once, for feeding other systems with idempotent writes. QueryBus routes
// typed queries (HandleQuery, Ask) to handlers that read read models.
//
// # Operating it
//
// WithObserver hands a Runner's or a Repository's Observations (failed
// reads and applies, a store behind its projections, rebuilds, conflicts
// retried, snapshot failures) to a function; WithLogger logs them to an
// *slog.Logger (nothing is logged by default). Runner.Stats and
// Repository.Stats count what each did; Runner.Lag says how far a
// projection is behind its store. Defaults are the Default* constants.
//
// # Schema evolution
//
// Events are immutable, so their schema evolves by upcasting: an Upcaster
// registered for (event type, schema version) turns version v into v+1
// (or renames the type); the version lives in Metadata[MetaSchema]
// (absent: 1). An UpcastingStore applies them on Load and ReadAll, so
// aggregates and projections only see the latest schema, and stamps the
// latest version on what it appends.
//
// # Redis and scale
//
// RedisStore runs each append as one Lua script (version check, id check,
// positions, writes). All of a store's keys share one hash tag, so it
// works on Redis Cluster and its global order is exact — and all its
// writes go to one slot, one master. For more write throughput, partition:
// one store (prefix) per bounded context or per group of streams, each its
// own slot and global order (see RedisStore). Read models have their own
// slot each; snapshots are spread by stream. Events have no TTL (they are
// the record); read models and checkpoints live until dropped; snapshots
// expire (WithSnapshotTTL) as the cache they are.
package cqrs
