// Package queue is a durable priority/scheduled work queue: each job goes
// to one consumer at a time, the most urgent due job first, never before
// its RunAt, with per-job retry, deferral and cancellation. Memory keeps
// it in one process; Redis shares it with a fleet and survives restarts
// and crashes. Both implement Queue with the same semantics, checked by
// one conformance suite (queue/queuetest).
//
//	q, err := queue.NewRedis(rdb, queue.WithName("mail"))
//	err = q.Enqueue(ctx, queue.Job{ID: "welcome:42", Payload: body, Priority: queue.High})
//	d, err := q.Dequeue(ctx) // blocks until a job is due
//	if err := send(d.Payload); err != nil {
//		err = q.Retry(ctx, d, time.Now().Add(time.Second<<d.Attempt)) // due later, Attempt+1
//	} else {
//		err = q.Ack(ctx, d)
//	}
//
// A worker loop that only acks on success can let Next do both: it acks
// the job it is given and takes the next one, on Redis in one round trip
// where Ack then Dequeue take two:
//
//	var done *queue.Delivery
//	for {
//		d, err := q.Next(ctx, done) // acks done (nil: nothing to ack), then blocks until a job is due
//		if err != nil { ... }       // ctx done, ErrClosed, ErrLeaseLost of done, or Redis: back off
//		done = nil
//		if err := send(d.Payload); err != nil {
//			_ = q.Retry(ctx, d, time.Now().Add(time.Second<<d.Attempt))
//			continue
//		}
//		done = d
//	}
//
// Use it for work that one worker must do once (send a notification,
// render a report, call a webhook), where some work is more urgent than
// the rest, some must wait until a time, and a failure must be retried or
// postponed per job. For fan-out to every interested party use pubsub.
//
// # Ordering and aging
//
// Among due jobs the highest effective priority goes first, FIFO by due
// time within a priority (by enqueue order for equal due times). A due
// job's effective priority rises one level per aging period waited
// (WithAging, DefaultAging): a Low job under a flood of fresh Normals is
// served once it has waited one period, and a fresh Critical still goes
// before Normals that have waited less than two periods. Both backends
// rank a job once, when it becomes due, by due − priority × aging (lower
// first): O(log n) per operation, no re-sorting as time passes. A RunAt in
// the past counts as now: waiting in the queue is what ages a job.
//
// # Delivery: at least once
//
// Dequeue leases a job to its caller, who ends the delivery with Ack
// (done: removed), Retry (failed: back, due at a time, Attempt+1) or Defer
// (not now: a breaker is open, quiet hours, a rate limit: back, Attempt
// unchanged, so postponing never burns the retry budget). Cancel removes
// a job that is not leased.
//
// On Redis the queue renews its leases every third of
// WithVisibilityTimeout. A consumer that dies stops renewing, and once the
// visibility timeout has passed the next Dequeue anywhere reclaims the
// job with Attempt+1 (event Reclaimed). The crash window: a consumer that
// did the work and died before its Ack reached Redis leaves a job that
// runs again; make the work idempotent by Job.ID (a provider's idempotency
// key, a "sent" record). A process cut off from Redis for longer than the
// visibility timeout loses its leases too: its Ack returns ErrLeaseLost
// (event LeaseLost) and the job may run twice. Close releases the leases
// a process still holds, so its jobs are redelivered at once (Attempt
// unchanged) rather than after the timeout.
//
// A Redis call that timed out (WithTimeout) has an unknown outcome: an
// Enqueue may have landed (enqueue it again: ErrDuplicate says it had), a
// Dequeue may have leased a job to nobody (it is reclaimed after the
// visibility timeout, Attempt+1).
//
// In Memory leases never expire (the only consumer that could die takes
// the queue with it) and jobs live as long as the process: use it in
// tests and where losing queued work on a restart is acceptable.
//
// # Redis
//
// All of one queue's keys share one hash slot, tagged by the queue's name
// (never by a job ID), so a Redis Cluster works; each operation is one Lua
// script. Due times come from the Redis server's clock (TIME), so app
// servers with skewed clocks agree (WithClock replaces it for due times in
// tests); leases always use it. An accepted job is as durable as Redis
// makes it: run Redis with appendonly yes (appendfsync always loses
// nothing acknowledged, even on kill -9) and maxmemory-policy noeviction.
// A restart without persistence, or FLUSHALL, loses every queued job.
//
// Costs per job: Enqueue, Dequeue and Ack are one script each, a few
// Redis commands apiece (a job is one hash field: a short header, then
// its payload; a lease is one sorted-set member, token and job, which Ack,
// Retry and Defer remove to prove the lease theirs). Next makes Dequeue
// and Ack one script. Calls made at once on one Redis value go out
// together (group commit): concurrent Enqueues as one script call that
// answers each job on its own, concurrent Dequeues and Nexts as one that
// acks and leases for each caller in turn (one ZPOPMIN, HMGET and ZADD
// for all, the reclaim and schedule scans once). There is no timer: a
// call with too few others in flight goes straight out, the rest leave
// together when one comes back; each caller keeps its own bound; a
// batch's error is every caller's; WithoutPipelining turns it off. When
// an Ack finds nothing left ready, the next
// Dequeue of that process waits for a wake-up without running a script.
// This key layout replaced the package's first one within this release:
// keys written by that one (:body and :meta hashes) are neither read nor
// migrated; drain such a queue before upgrading.
//
// A blocked Dequeue does not poll Redis in a loop. One listener per queue
// value blocks on a short wake-up list (BLPOP) that every Enqueue, Retry,
// Defer and Close pushes to, and wakes one local Dequeue per entry; a
// Dequeue also wakes by itself when the next scheduled job is due or the
// next lease expires, and at least every WithPollInterval. However many
// consumers wait, a process holds one blocked connection.
//
// # Why not pubsub
//
// pubsub is a fan-out bus: every group gets every message, in publish
// order. A work queue gives each job to one consumer, reorders jobs by
// priority and age, holds them until a time, and retries, defers or
// cancels one job by ID: different structures and different guarantees,
// so a package of its own.
package queue
