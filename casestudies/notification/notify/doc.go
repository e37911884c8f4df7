// Package notify is the notification service of the case study: an HTTP
// API that accepts notifications for a user on several channels at once,
// and workers that deliver them through senders.Sender implementations,
// most urgent first, honouring the user's preferences.
//
// It composes the module's packages:
//
//   - queue: one job per channel delivery (ID "<notification id>.<channel>"),
//     by priority with aging, scheduled by send_at, retried, deferred and
//     cancelled by ID; on Redis, durable and reclaimed from crashed workers.
//   - cqrs: each notification's history is an event stream; GET reads a
//     projection of it (View), folded from the stream by a cqrs.Repository
//     when asked for: every change recorded before the GET shows.
//   - cache: preferences are read through a cache-aside in front of their
//     store, invalidated when a PUT changes them; the invalidation fences
//     off loads of the old value in flight on every instance.
//   - breaker: one circuit per channel's provider; while it is open,
//     deliveries are deferred instead of burning attempts.
//   - ratelimit: a token bucket per user and channel; over it, deferred.
//
// # API
//
//	POST   /api/notifications            {"user_id","channels","priority","subject","body","send_at"?,"idempotency_key"?} → 202 {"id"}
//	GET    /api/notifications/{id}       → 200 View
//	DELETE /api/notifications/{id}       → 200 {"cancelled": [...], "not_cancelled": {channel: why}}
//	PUT    /api/users/{id}/preferences   {"opt_out": ["sms"], "quiet_hours": {"from":"22:00","to":"07:00","tz":"Europe/Berlin"}}
//	GET    /api/users/{id}/preferences
//	GET    /healthz                      → 200 once started
//
// In process, Service.Submit accepts a Notification with the same checks
// and guarantees as the POST, without HTTP and JSON.
//
// Bad input is a 400 {"field","error"} naming the field; a backend that
// does not answer (Redis down) is a 503 with Retry-After, never a 500.
// An idempotency key (the field or an Idempotency-Key header) is scoped to
// its user and remembered for Config.IdempotencyTTL (24 h): a repeat is
// answered with the first notification's id and sends nothing.
//
// # Delivery
//
// A worker takes the most urgent due job and checks, right before sending:
// opt-out (the delivery is skipped), quiet hours in the user's time zone
// (a non-critical one is deferred to their end; critical ones go through),
// the provider's circuit (open: deferred until it may half-open), the
// user's rate limit (deferred until allowed). A deferral never uses an
// attempt. Then it sends through the channel's breaker: success is sent; a
// permanent failure (senders.Permanent) fails at once; a transient one is
// retried after RetryBase·2^(attempt-1) (2, 4, 8 … s, capped, jittered)
// until MaxAttempts, then fails with the reason.
//
// # Durability and duplicates
//
// With Config.Redis everything lives in Redis, and instances sharing it
// share the work. A 202 means the history and every channel's job are in
// Redis. Accepting writes the history first, then the jobs; when Redis
// fails between the two, the client gets a 503 (and may retry with the
// same idempotency key, which was released), and the service cancels the
// jobs it enqueued and marks the channels cancelled ("not accepted"), best
// effort: if Redis is unreachable for that too, the history of that
// unacknowledged notification keeps showing it queued. A
// worker that dies mid-delivery loses its lease and another instance
// delivers the job again (Attempt+1) after the queue's visibility timeout:
// a delivery is sent twice only when a worker dies (or is cut off from
// Redis) after its provider accepted the message and before the queue
// heard of it. Because a worker records a finished delivery's history in
// the background while it takes its next job (the ack waits for that
// record, then rides a later take), a dying worker can hold up to three
// such deliveries, not one: the one it was sending, the one whose record
// was in flight and the one whose ack was on its way. A job taken ahead
// and not yet begun is delivered once, by whoever reclaims it. Providers
// get a stable message ID (senders.Message.ID) to drop such duplicates.
//
// In memory (no Redis) the service is one process's: nothing survives a
// restart, and the history of every notification stays in memory
// for the life of the process — for demos, tests and small tools.
package notify
