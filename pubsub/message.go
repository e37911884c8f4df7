package pubsub

import (
	"context"
	"time"
)

// Message is one published event as a handler sees it.
//
// A handler must treat the Message, its Payload and its Metadata as
// read-only, and must not keep m after it returns: the memory bus shares
// one Payload and Metadata between every subscription the message reaches,
// and each worker reuses one Message value for the messages it delivers
// (that is what makes a publish cost one allocation). Copy what you need
// to keep (`kept := *m`, plus bytes.Clone of the payload if you will
// modify it).
type Message struct {
	// ID is unique per published message, and the same in every
	// subscription and every redelivery of it; use it to deduplicate.
	ID string
	// Topic is the dot-separated topic the message was published to.
	Topic string
	// Payload is the published body, unchanged.
	Payload []byte
	// Metadata holds headers; nil when there are none. Dead letters carry
	// the Meta… keys.
	Metadata map[string]string
	// PublishedAt is when Publish was called, on the publisher's clock.
	PublishedAt time.Time
	// Attempt counts deliveries of this message to this subscription (or
	// group) from 1: 2 is the first retry.
	Attempt int
}

// Handler processes a message. A nil error acknowledges it; an error (or a
// panic, recovered) has it retried with backoff until MaxAttempts, after
// which it is published to the dead-letter topic. ctx is cancelled when the
// subscription is stopped and its drain timeout has run out; Stopping(ctx)
// is closed as soon as it begins to stop, and an error wrapping
// ErrHandBack then releases the message at once.
type Handler func(ctx context.Context, m *Message) error

// Bus publishes messages to topics and delivers them to the subscriptions
// whose patterns match. Memory, Redis and Broadcast implement it; package
// pubsubtest checks that another implementation behaves like them.
type Bus interface {
	// Publish sends payload to topic. It returns when every matching
	// subscription has the message queued (Memory, Broadcast) or stored
	// (Redis); delivery is asynchronous.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls h for every message whose topic matches pattern,
	// published after Subscribe returns (or, with WithGroup on Redis, since
	// the group was first bound or declared), until Unsubscribe, Close or
	// the end of ctx.
	Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubscribeOption) (Subscription, error)
	// Close stops every subscription, draining in-flight handlers for at
	// most the drain timeout (WithDrainTimeout), and stops every goroutine
	// the bus started.
	Close() error
	// Shutdown is Close with the caller's deadline instead of the drain
	// timeout: it returns by ctx's deadline (an error wrapping
	// ErrDrainTimeout when handlers were still running then).
	Shutdown(ctx context.Context) error
	// Stats returns the bus's counters.
	Stats() Stats
}

// GroupDeclarer is a bus whose groups can be made before their first
// member subscribes, so that they keep the messages published meanwhile:
// Memory and Redis are.
type GroupDeclarer interface {
	DeclareGroup(ctx context.Context, group, pattern string) error
}

// Subscription is a live subscription.
type Subscription interface {
	// Unsubscribe stops delivery to this subscription: it returns once its
	// in-flight handlers have returned (bounded by the drain timeout) and
	// its goroutines have stopped. Calling it again, or after Close,
	// returns ErrClosed; after the end of the context given to Subscribe
	// (which ends the subscription) it returns nil.
	Unsubscribe() error
}

// Metadata keys of a dead letter: the message as it was published, with
// these added.
const (
	// MetaDeadReason is the last handler error.
	MetaDeadReason = "pubsub-dead-reason"
	// MetaDeadTopic is the topic the message was published to.
	MetaDeadTopic = "pubsub-dead-topic"
	// MetaDeadID is the original message's ID.
	MetaDeadID = "pubsub-dead-id"
	// MetaDeadAttempts is how many deliveries failed.
	MetaDeadAttempts = "pubsub-dead-attempts"
	// MetaDeadGroup is the group (or, for a plain subscription, its
	// pattern) whose handler gave up.
	MetaDeadGroup = "pubsub-dead-group"
)
