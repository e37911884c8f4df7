// Package queue is a durable priority/scheduled work queue: each job goes
// to exactly one consumer at a time, the most urgent due job first, never
// before its RunAt, with per-job retry, deferral and cancellation. Memory
// keeps it in one process; Redis shares it with a fleet and survives
// restarts and crashes.
//
//	q, err := queue.NewRedis(rdb, queue.WithName("mail"))
//	err = q.Enqueue(ctx, queue.Job{ID: "welcome:42", Payload: body, Priority: queue.High})
//	d, err := q.Dequeue(ctx) // blocks until a job is due
//	if err := send(d.Payload); err != nil { q.Retry(ctx, d, time.Now().Add(backoff(d.Attempt))) }
//	q.Ack(ctx, d)
//
// # Ordering and aging
//
// Among due jobs the highest effective priority goes first, FIFO by due
// time within a priority. A due job's effective priority rises one level
// per aging period waited (WithAging, DefaultAging), so a Low job under a
// flood of Normals is served once it has waited one period longer than
// they have, and a fresh Critical still goes before Normals that have
// waited less than two periods. Both backends rank a due job once, when it
// becomes due, by due − priority × aging: an O(log n) ordered set, no
// periodic re-sorting.
//
// # Delivery guarantees
//
// At least once. A Dequeue leases the job to its caller; the consumer ends
// it with Ack (done), Retry (failed: back, due later, Attempt+1) or Defer
// (not now: back, Attempt unchanged: for a breaker that is open, quiet
// hours, a rate limit). On Redis the queue renews its leases every third
// of WithVisibilityTimeout; a consumer that dies stops renewing, and after
// the visibility timeout the next Dequeue anywhere reclaims the job with
// Attempt+1. The crash window: a consumer that did the work and died
// before its Ack got to Redis leaves a job that runs again, so make
// handlers idempotent by Job.ID. A consumer cut off from Redis for longer
// than the visibility timeout loses its leases: its Ack returns
// ErrLeaseLost and the job may run twice.
//
// In Memory the leases never expire: the only consumer that could die
// takes the queue with it. Its jobs live as long as the process.
//
// # Redis
//
// All of one queue's keys share one hash slot, tagged by the queue's name
// (never by a job ID), so a Redis Cluster works. Each operation is one Lua
// script. Due times come from the Redis server's clock (TIME) unless
// WithClock says otherwise, and leases always do, so skewed app servers
// agree. Enqueued jobs are durable as far as Redis is: run it with
// appendonly yes (appendfsync always loses nothing acknowledged on kill
// -9) and maxmemory-policy noeviction.
//
// A blocked Dequeue does not poll Redis in a loop: one listener per queue
// value blocks on a wake-up list (BLPOP) that every Enqueue, Retry and
// Defer pushes to, bounded by the next due time and WithPollInterval.
//
// # Why not pubsub
//
// pubsub is a fan-out bus: every group gets every message, in publish
// order. A work queue gives each job to one consumer, reorders by priority
// and age, holds jobs until a time, and retries, defers or cancels one job
// by ID: different structures, different guarantees.
package queue
