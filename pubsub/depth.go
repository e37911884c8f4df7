package pubsub

import (
	"context"
	"sort"
)

// DepthReporter is a bus that can tell how far behind its subscribers are:
// Memory, Redis and Broadcast are, and so is otel.TracingBus around one.
// It is not part of Bus, so that a Bus implemented elsewhere need not
// offer it; test for it with a type assertion.
type DepthReporter interface {
	// Depths returns one Depth for each group and plain subscription that
	// this bus consumes (see each implementation for which ones, and what
	// a failure costs).
	Depths(ctx context.Context) ([]Depth, error)
}

// Depth is the backlog of one group, or of one plain subscription, at the
// moment it was read. Queued plus InFlight is what the group has not
// finished: RabbitMQ's "messages" (ready plus unacknowledged).
type Depth struct {
	// Group is the group's name; "" for a plain subscription (on Redis its
	// group has a random name that means nothing to an operator).
	Group string
	// Pattern is the pattern the group (or subscription) is bound to.
	Pattern string
	// Consumers is how many members the group has: in memory the
	// subscriptions sharing its queue (0 for a declared group whose first
	// member has not come yet); on Redis the consumers the group has in
	// Redis, in every process, including idle ones not yet deleted (a
	// consumer appears with its first read, or on some servers, such as
	// miniredis, its first entry).
	Consumers int64
	// Queued is how many messages wait that no member has taken yet: in
	// memory the length of the queue; on Redis the group's lag, the
	// entries of its stream after the last one delivered to a consumer
	// (XINFO GROUPS "lag", published by every process), whichever process
	// reads it.
	Queued int64
	// QueuedUnknown is set on Redis when the server could not count
	// Queued: it reports no lag (Redis before 7.0) or an unreliable one,
	// and counting the undelivered entries found more than DepthCountLimit.
	// Queued then holds DepthCountLimit, a lower bound.
	QueuedUnknown bool
	// InFlight is how many messages members have taken and not finished.
	// In memory: handler calls running or backing off before a retry, in
	// this process. On Redis: the group's pending entries (XINFO GROUPS
	// "pending"), of every consumer: waiting in a reader for a free
	// worker, in a handler or its backoff, waiting for their XACK, and
	// held by a consumer that died until another reclaims them.
	InFlight int64
}

// DepthCountLimit is how many undelivered entries Redis.Depths counts
// itself when Redis reports no usable lag (before Redis 7.0, and on
// miniredis) before it gives up and sets Depth.QueuedUnknown.
const DepthCountLimit = 1000

// sortDepths orders depths by group, then pattern, so that every read
// lists them in the same order.
func sortDepths(ds []Depth) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].Group != ds[j].Group {
			return ds[i].Group < ds[j].Group
		}
		return ds[i].Pattern < ds[j].Pattern
	})
}

var (
	_ DepthReporter = (*Memory)(nil)
	_ DepthReporter = (*Redis)(nil)
	_ DepthReporter = (*Broadcast)(nil)
)
