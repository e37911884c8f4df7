// Package cache is cache-aside for Go services: an in-process LRU with
// per-entry TTLs, a Redis cache a fleet shares, a two-tier cache of both,
// and Aside, the read-through/invalidate pattern in front of any of them,
// with stampede protection.
//
// # Happy path
//
//	users, err := cache.NewRedis[User](rdb, cache.WithPrefix("users:"))
//	if err != nil { … }
//	byID, err := cache.NewAside(users, db.LoadUser, cache.WithTTL(10*time.Minute))
//	u, err := byID.Get(ctx, id)           // cache, else db.LoadUser, once per key however many ask
//	err = byID.Invalidate(ctx, id)        // after writing the user to the database
//
// # When to use which
//
//   - LRU: one process, values that are cheap to hold in memory. Reads
//     cost tens of nanoseconds and no allocation. Each process has its own
//     copy, so after a write other processes serve the old value until
//     their TTL ends: use short TTLs, or Tiered.
//   - Redis: a fleet that must agree on one copy, values too big or too
//     many for every process's memory, or a cache that must survive
//     deploys. Every read is a round trip.
//   - Tiered: hot keys read far more often than they change, in a fleet.
//     Reads hit the local LRU; Redis is the shared tier; writes invalidate
//     every instance's local copy over Redis pub/sub.
//
// # The pattern
//
// Aside.Get reads the cache; on a miss it calls the Loader and stores what
// it returns. The write path is the caller's: update the source of truth,
// then Aside.Invalidate the keys; Aside never writes a value it did not
// load, so a cache can only hold what the source held at some point.
// Around that it adds what each production cache-aside ends up needing:
//
//   - Stampede protection: concurrent misses of one key run the loader
//     once per process; the loader runs on a context of its own, so a
//     caller giving up does not fail the others, and a panic in it is an
//     error (*PanicError) to every waiter. WithFleetLock extends this to a
//     fleet with a lock on Redis.
//   - Negative caching: a loader's ErrNotFound is cached for a short TTL,
//     so requests for missing keys do not all reach the database.
//   - TTL jitter, so keys loaded together do not expire together.
//   - Early refresh (XFetch): a hit shortly before expiry may reload the
//     key in the background, so a hot key never misses at all.
//   - Degradation: a cache that fails (Redis down, a value that does not
//     decode) costs a read a bounded delay, never an error: the loader
//     serves it. A Redis that stops answering costs a read WithTimeout
//     (DefaultTimeout) for the cache read, and the fleet lock's own
//     WithTimeout again when there is one, on every go-redis client; a
//     wait for another process's lock ends after WithLockWait
//     (DefaultLockWait) however Redis behaves meanwhile.
//
// # Options
//
// Each constructor takes options of its own type (LRUOption, RedisOption,
// AsideOption, TieredOption; WithFleetLock takes FleetLockOptions), so an
// option given to a constructor it does not fit is a compile error. An
// option that fits several constructors, such as WithClock or WithPrefix,
// implements each of their types. Defaults are the Default… constants.
//
// # Observing
//
// WithObserver(func(Event)) hears what an operator needs: load errors,
// cache and fleet lock errors worked around, waits for another process's
// fleet lock, early refreshes, negative hits, and a Tiered's invalidation
// subscription lost and back (see EventKind). WithLogger(*slog.Logger)
// logs them: Error for a failing loader, Warn for failures worked around.
// Stats() on every type (LRU, Redis, Tiered, Aside) counts what it did,
// lock-free. The observer is called synchronously, never under a lock of
// this package: it must be quick.
//
// # Panics
//
// A Loader that panics fails its load, not the process: every waiter gets
// a *PanicError, holding the panic value and the stack, whose Unwrap
// gives ErrLoaderPanic and the panic value when that is an error.
//
// # Redis key layout
//
// Entries are prefix + "{}v:" + key, fleet locks prefix + "{}l:" + key,
// and the channels prefix + "{}released" (fleet lock) and prefix +
// "{}invalidate" (Tiered). Prefixes may not hold braces, so these
// namespaces never overlap whatever the keys and prefixes, and the empty
// hash tag makes Redis Cluster hash each whole name: a brace in a key
// never decides its slot. Aside.Invalidate leaves a short-lived
// tombstone under an entry's name (a miss to every reader) rather than
// deleting it. When Redis loses its data (FLUSHALL, a restart
// without persistence) the cache is merely cold: reads load again.
//
// # Trade-offs
//
// Cache-aside is eventually consistent. Between a write to the source and
// its Invalidate, readers see the old value. A load anywhere that read the
// source just before the write cannot store the old value after the
// Invalidate, over an LRU, Redis or Tiered cache: Invalidate fences it off
// (see Aside.Invalidate), on Redis for a bounded time (twice the load
// timeout plus the fleet lock wait). A Tiered local tier adds up
// to WithLocalTTL of staleness when an invalidation message is lost in a
// way the flush on reconnect cannot see. By default a Tiered empties its
// local tier when its invalidation subscription drops, so an outage of
// Redis is an outage of every read; WithServeStaleWhileDetached(maxAge)
// keeps serving the local tier through the outage instead, at the price
// of serving a key changed or deleted meanwhile for up to maxAge. Choose
// TTLs for the staleness you can accept, not for the hit rate you want.
//
// The LRU is exact by default: it holds exactly capacity entries (and
// values costing up to WithMaxCost in total, any one of them up to the
// whole budget) before it evicts, and it evicts exactly the least recently
// used entry. That takes one lock for all callers: a hit holds it for tens
// of nanoseconds, which is plenty for most services. WithShards(n) splits
// it into n independently locked LRUs for parallel readers, and gives up
// exactness for that: each shard evicts its own least recently used entry
// and has capacity/n entries and maxCost/n of the budget, so a sharded
// cache may evict before it is full (see WithShards). WithTinyLFU swaps
// exact LRU for W-TinyLFU, an opt-in policy that keeps frequently used
// keys against one-off scans and adapts to recency-heavy traffic (on a
// Zipf(1.01) trace, hit ratio 0.80 against plain LRU's 0.75).
//
// A Tiered local hit reads no clock: the local tier reuses one clock
// reading for up to a millisecond, refreshed only while it is being read,
// so local entries may expire up to about a millisecond late and an idle
// Tiered wakes nothing.
//
// Time: the LRU and Aside take time from WithClock (for tests); Redis TTLs
// run on the server's clock. A Redis read is one GET: each value carries
// its expiry deadline, written on the writer's clock, from which GetEntry
// reports the TTL left, so clock skew between processes shifts early
// refresh and Tiered's local TTL cap by as much, never a value's expiry.
package cache
