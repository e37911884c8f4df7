// Package pubsub is an event bus: publishers send messages to
// dot-separated topics ("orders.created"), subscribers receive those whose
// topic matches their pattern, where "*" matches exactly one segment and
// "#" zero or more ("orders.*", "#.created", "#"). Three implementations
// share the Bus interface, the topic trie and the delivery rules:
//
//   - Memory: within one process, fast (one allocation per publish),
//     nothing durable.
//   - Redis: durable and at-least-once across a fleet, on Redis Streams,
//     routed like a topic exchange.
//   - Broadcast: fire-and-forget fan-out to every process on Redis
//     Pub/Sub (cache invalidation), nothing durable.
//
// The happy path:
//
//	bus, err := pubsub.NewRedis(redisClient) // or bus := pubsub.NewMemory()
//	defer bus.Close()
//	bus.Subscribe(ctx, "orders.*", func(ctx context.Context, m *pubsub.Message) error {
//		return sendEmail(ctx, m.Payload) // an error is retried with backoff, then dead-lettered
//	}, pubsub.WithGroup("email"))
//	bus.Publish(ctx, "orders.created", payload)
//
// # When to use it
//
// Use it to decouple the code that notices something happened from the
// code that reacts: one publisher, any number of independent reactions
// (e-mail, analytics, audit), each added without touching the publisher.
// Use Memory for reactions inside one service and in tests, Redis when
// reactions run in other processes or must survive restarts, and
// Broadcast when every process must hear about something now and a missed
// message is harmless. It is not a log you can replay from the start (see
// package cqrs for that), and it does not order messages across
// subscriptions or publishers.
//
// # Delivery
//
// Each subscription (or group) has its own backlog: a bounded queue in
// memory, a stream on Redis. Its handler runs on WithWorkers goroutines
// (default 1, which keeps publish order; more workers trade order for
// throughput); the bus never starts a goroutine per message. A handler
// returning nil acknowledges the message. An error, or a panic (recovered
// as a *PanicError), has it retried by the same worker after a backoff
// (WithBackoff: from DefaultBackoffMin, doubling, capped at
// DefaultBackoffMax, with jitter), up to WithMaxAttempts deliveries
// (DefaultMaxAttempts); then it is published to the dead-letter topic
// (WithDeadLetterTopic, DefaultDeadTopic) with the reason, original topic,
// ID, attempts and group in its Metadata (the MetaDead… keys). A dead
// letter whose own handler fails is dropped. Message.Attempt counts
// deliveries from 1. Retrying in the worker keeps order, at the price of
// holding that worker during the backoff. Memory and Redis share this
// delivery loop; they differ in how a message is acknowledged, handed
// back and claimed again.
//
// Subscribers with the same WithGroup name share the group's messages
// (each message goes to one member); every group, and every plain
// subscription, gets every matching message. A group is bound to one
// pattern (ErrGroupBound otherwise). A plain Subscribe gets the messages
// published after it returns. DeclareGroup (Memory, Redis: the
// GroupDeclarer interface) makes a group before its first member, so
// that the messages published before any consumer starts are kept for
// it. A memory group retires with its last member; a Redis group lives
// until DeleteGroup.
//
// A subscription ends with Unsubscribe, Close or Shutdown, or when the
// context given to Subscribe ends: give Subscribe a context that lives as
// long as the subscription should, not a request's.
//
// # Options
//
// Each constructor takes options of its own type (MemoryOption,
// RedisOption, BroadcastOption; Subscribe takes SubscribeOptions), so an
// option given to a constructor it does not fit is a compile error. An
// option that fits several implements several: BusOption (every
// constructor), DeliveryOption (every constructor, as the default, and
// Subscribe), QueueOption (the in-memory queues of Memory and Broadcast,
// and Subscribe), RedisAndBroadcastOption. Subscribe is a method of the
// Bus interface, so its options cannot be checked per backend at compile
// time: WithQueueSize or WithOverflow given to a Redis bus's Subscribe,
// and WithConsumer given to a memory one's, are an error wrapping
// ErrInvalidConfig. A Bus implemented outside this package reads them
// with ResolveSubscribeOptions, and package pubsubtest checks that it
// conforms.
//
// # Observing
//
// WithObserver(func(Event)) hears what an operator needs: retries
// (EventRetried), dead letters, panics, overflow drops, hand-backs, and on
// Redis reclaims, rebinds, losing and regaining Redis (EventDetached,
// EventRejoined) and ErrNoBinding; WithLogger logs the same events (Error
// for dead letters and panics, Warn for retries, drops and detaching),
// never payloads; nil, the default, logs nothing. Stats returns
// lock-free counters. Depths (DepthReporter: Memory, Redis, Broadcast)
// reads each group's backlog, queued and in flight (on Redis its lag and
// pending entries, one XINFO GROUPS per group, within WithTimeout), for
// queue-depth and consumer-lag gauges; package
// github.com/sysdesign/patterns/otel exports them.
//
// Handlers must treat *Message as read-only and must not keep it after
// returning: the memory bus shares one payload and metadata map between all
// subscriptions and reuses each worker's Message value (copy what you keep).
//
// # Memory
//
// Publish matches the topic against an immutable trie snapshot (one atomic
// load, no lock; Subscribe and Unsubscribe copy the changed path and swap
// the snapshot, so they never block publishers) and puts one shared
// *Message on each matching queue. Matching steps the set of trie nodes
// the topic's prefix reaches forward one segment at a time, each node at
// most once per segment ("#" nodes stay in the set), so it costs
// O(segments × nodes in the set): it does not grow with the number of
// subscriptions, nor exponentially with the "#"s of a pattern; topics and
// patterns are at most MaxTopicLen bytes, so at most 256 segments. The payload is not copied: do not modify it after
// Publish. A full queue applies the subscription's Overflow policy:
// OverflowBlock (default: Publish waits, until its ctx is done, so nothing
// is lost), OverflowDropOldest, OverflowDropNewest or OverflowError
// (ErrQueueFull); Stats counts what was dropped. Dead letters never block:
// to a full queue they are dropped and counted.
//
// NewMemory's signature has no error (it is fixed by the module's
// design): a bad option value makes every method return it (ConfigErr
// reports it at once).
//
// # Redis
//
// Each group is a Redis Stream with a consumer group, bound to its pattern
// in a registry hash whose version counter changes with every binding.
// Publishers cache the registry in a trie; Publish routes the message to
// the streams of every matching group in one script that first checks the
// cached version (and on a mismatch the publisher reloads the registry
// and routes again). So a group bound before a publish never misses it,
// even while all its consumers are down: the message waits in its stream.
// A plain subscription is an ephemeral group of its own, deleted by
// Unsubscribe and Close; if its process dies its lease (three heartbeats)
// expires and any live consumer of the namespace deletes it.
//
// Consumers first read the entries their consumer name still holds
// (WithConsumer gives a process a stable name), then new ones with
// XREADGROUP (up to WithBatch at a time); successes are acknowledged
// (XACK, batched); a failure stays pending while the worker backs off and
// then claims it again. A consumer holds an entry from the moment a read
// or claim returns it until it is acknowledged or dead-lettered: waiting
// for a free worker, in the handler, in backoff, and in the XACK batch
// (so it holds what its workers handle, up to a read queued for them and
// the next read, waiting for room in that queue); it heartbeats every
// entry it holds every third of
// WithVisibilityTimeout (default 30s; at most every 10s), so a live
// consumer's entries are never reclaimed, however long they wait or
// their handlers run (should heartbeats come so late, on a starved
// machine, that an entry it holds looks dead, its own reclaim pass leaves
// it alone: that pass skips every entry the consumer held when it began,
// so an entry handled or queued here is neither queued a second time nor
// counted as another delivery). Entries of a consumer that stopped
// heartbeating for the visibility timeout (its process died or lost
// Redis) are reclaimed by the others (XPENDING IDLE, then XCLAIM) and
// redelivered. A read
// whose reply a live consumer never saw (given up on at its bound, a cut
// connection, or sent again by go-redis after a read timeout, so that the
// reply seen was the second read's) leaves its entries pending for that
// consumer, held by nobody: the consumer's reclaim pass (at most every
// second) takes back the pending entries it does not hold and delivers
// them, without counting the lost delivery (Stats.Recovered,
// EventRecovered), rather than leave them for the visibility timeout
// (entries that stayed lost for that long are reclaimed as a dead
// consumer's are, and counted).
// Delivery counts live in
// Redis: a message whose consumers keep dying mid-handler is dead-lettered
// after MaxAttempts too.
// A dead letter is appended to the dead-letter stream and routed to the
// groups bound to the dead-letter topic atomically with its XACK.
// Delivery is at least once: deduplicate by Message.ID where it matters.
//
// Each stream belongs to one group, and its consumers' reclaim pass (at
// most every second) trims what the group has acknowledged: the entries
// older than its oldest pending one (XTRIM MINID). What the group has not
// acknowledged, delivered or not, is never trimmed by that, so messages
// published while all its consumers are down wait for them, however long,
// up to the safety cap: XADD also caps every stream at about WithMaxLen
// entries (MAXLEN ~, default 100 000), for groups whose consumers never
// come back. A group whose backlog outgrows the cap loses its oldest
// messages, undelivered or not (delivered but unacknowledged ones are then
// acknowledged when reclaimed: they cannot be delivered again). Size the
// cap for the longest outage you must survive times your publish rate,
// and DeleteGroup groups you retire.
//
// The reclaim pass also deletes the consumers that hold no entries and
// have been idle for four visibility timeouts: each process has a random
// consumer name unless WithConsumer gives it one, and a process that dies
// does not leave its group (one that stops cleanly does). Deleting a live
// consumer that holds nothing loses nothing; Redis recreates it with its
// next entry. The registry holds one field per group; durable groups live
// until DeleteGroup; the version counter (one small string) and the
// dead-letter stream (capped at WithMaxLen) last as long as the namespace
// is used.
//
// Keys, for prefix P (WithPrefix, default "pubsub:") and namespace N
// (WithNamespace, default "bus"):
//
//	P{N}:reg          hash: group -> pattern
//	P{N}:ver          registry version, "<epoch>:<n>" (see Faults)
//	P{N}:eph          sorted set: ephemeral group -> when its lease may end
//	P{N}:lease:GROUP  an ephemeral group's lease (a key with a TTL)
//	P{N}:s:GROUP      stream of one group
//	P{N}:dead         stream of dead letters
//
// Redis Cluster: the hash tag {N} puts all of a namespace's keys in one
// slot, because one script writes a message to every matching group's
// stream. The cost is that one namespace lives on one master: its
// throughput and memory are one node's. Scale out with several namespaces
// for unrelated families of topics (each on its own slot, so on its own
// master in a large enough cluster); topics and groups do not cross
// namespaces.
//
// # Faults
//
// Every Redis call is bounded, on every client (with or without
// ContextTimeoutEnabled): Publish, Subscribe and DeleteGroup return
// within WithTimeout (DefaultTimeout, 2s) or their ctx's deadline,
// whichever is sooner; a consumer's read within the read block plus the
// timeout; Shutdown and Close by their deadline. A call that timed out
// has an unknown outcome: a Publish may have stored the message.
//
// A frozen, paused, sleeping or unreachable Redis makes calls fail within
// their bound; consumers retry, holding nothing back, and resume by
// themselves. Out of memory (maxmemory with noeviction), Redis refuses
// writes: Publish fails (it never reports a message stored that was not),
// and running plain subscriptions keep their leases, which are renewed
// with PEXPIRE, a command Redis allows then; no bus reaps another's
// subscription while its own calls fail, or for a lease after. A plain
// subscription whose own process is cut off from Redis (while others
// reach it) for longer than its lease may be reaped: it binds again when
// it reconnects, and misses what was published meanwhile.
//
// When Redis loses its data (FLUSHALL, a restart without persistence),
// it loses the messages it held that were not yet handled and every
// binding. Each running subscription, plain or in a durable group, binds
// its group again by itself (Stats.Rebinds) within about one read. The
// registry version's epoch, a random id given to the version key when it
// is created, tells a lost registry from a DeleteGroup: members of a
// deleted group do not bind it again. Until the groups are bound again,
// Publish fails with ErrNoBinding, rather than reporting success, for a
// message due to a subscription of its own bus or to a group that its
// copy of the registry bound before the loss (for at most twice the read
// block plus the timeout after noticing it): see Redis.Publish. A durable group
// with no running member when Redis lost its data is gone with its
// backlog, until a Subscribe binds it again. With appendonly yes and
// appendfsync always, a restart loses nothing that Redis acknowledged:
// every message Publish accepted is delivered. Run Redis with
// maxmemory-policy noeviction: an eviction policy may delete a group's
// stream or lease.
//
// # Broadcast
//
// NewBroadcast publishes with PUBLISH on channel P+N+":"+topic; each
// process PSUBSCRIBEs once to P+N+":*" and filters with the same trie,
// since Redis's glob "*" crosses dots. Delivery inside a process is the
// memory bus's (queues, workers, retries, local dead letters). A process
// that is not connected when a message is published never gets it.
//
// # Shutting down
//
// Close stops every subscription: no new messages are taken, in-flight
// handlers finish (the memory bus also drains the queues), for at most
// WithDrainTimeout (DefaultDrainTimeout); then handlers' contexts are
// cancelled, Close returns an error wrapping ErrDrainTimeout, and on
// Redis their messages stay pending, claimable by other consumers at
// once. Shutdown(ctx) does the same with the caller's deadline. A handler
// need not make the shutdown wait: Stopping(ctx) is closed when its
// subscription begins to stop, and returning an error wrapping
// ErrHandBack then releases its message at once (on Redis, for another
// consumer to claim now; in memory, to another member of its group, or
// dropped when none is left). On Redis, messages a subscription had read
// but not started when it began to stop (the rest of a WithBatch read, or
// a read that returned after the stop) are handed back at once too, in
// one call, their delivery not counted: another consumer of the group
// takes them within a second, not after the visibility timeout. Only a
// read given up on at the deadline (its reply never seen) leaves what it
// took for the visibility timeout. Both return by their deadline (plus
// at most 10ms for cancelled handlers to return), however Redis fares: a
// Redis bus unbinds its subscriptions concurrently, within what is left
// of the deadline. Every goroutine the bus started has stopped when they
// return, except a handler that ignores its context and, on Redis, a
// read under way at the deadline, which ends by itself within the read
// block plus the timeout.
//
// # Trade-offs
//
// Memory is the fastest and loses everything on a crash. Redis costs a
// round trip per publish (one script, however many groups match) and
// about one per delivery, keeps every group's backlog in one Redis
// master's memory (bounded by WithMaxLen, which is also how much backlog
// a group can lose), and delivers at least once.
// Broadcast costs one PUBLISH and guarantees nothing.
package pubsub
