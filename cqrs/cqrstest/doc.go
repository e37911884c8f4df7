// Package cqrstest is the conformance suite of cqrs.EventStore: the cases
// every event store must pass, whatever it keeps its log in. cqrs's own
// memory and Redis stores run it; a third party's store (Postgres,
// EventStoreDB, DynamoDB, …) proves it can stand in for them by running it
// too:
//
//	func TestMyStoreConforms(t *testing.T) {
//		cqrstest.TestEventStore(t, cqrstest.Features{}, func(t *testing.T) cqrstest.Backend {
//			db := freshDatabase(t)
//			return cqrstest.Backend{
//				Store:     mystore.New(db),
//				NewHandle: func() cqrs.EventStore { return mystore.New(reconnect(t, db)) },
//			}
//		})
//	}
//
// Each case gets a fresh, empty store from the factory and runs as a
// subtest named after it, so `go test -run 'TestMyStoreConforms/large
// batch'` runs one; Cases is exported for a caller that picks its own.
// The cases check what cqrs.EventStore's doc comment promises: versions
// from 1, global positions from 1 without gaps, NoStream / StreamExists /
// AnyVersion, an atomic all-or-nothing append, idempotent retries by event
// id, exactly one winner among racing writers, and copies out. Stores that
// also implement cqrs.Header or cqrs.Waiter (which the projection Runner
// uses) get those checked too; the cases for them skip on a store without
// them.
//
// TestSnapshotStore and TestCheckpointStore do the same for
// cqrs.SnapshotStore (a Repository's snapshots) and cqrs.CheckpointStore
// (a FuncProjection's checkpoints), each with its own table of cases
// (SnapshotCases, CheckpointCases) and a factory of fresh, empty stores.
package cqrstest
