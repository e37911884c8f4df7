package pubsub

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidTopic wraps every error about a malformed topic, pattern or
	// group name.
	ErrInvalidTopic = errors.New("pubsub: invalid topic")
	// ErrInvalidConfig wraps every error about an invalid argument other
	// than a topic: the configuration of a constructor, an option or
	// Subscribe, and a nil *Message given to PublishMessage.
	ErrInvalidConfig = errors.New("pubsub: invalid config")
	// ErrClosed is returned by calls on a bus that is closing or closed, and
	// by Unsubscribe of a subscription that already ended.
	ErrClosed = errors.New("pubsub: closed")
	// ErrQueueFull is returned by Publish when a subscription whose overflow
	// policy is OverflowError has a full queue. The other subscriptions got
	// the message.
	ErrQueueFull = errors.New("pubsub: subscription queue full")
	// ErrGroupBound is returned by Subscribe with WithGroup when the group is
	// already bound to a different pattern. On Redis, DeleteGroup unbinds a
	// group.
	ErrGroupBound = errors.New("pubsub: group bound to another pattern")
	// ErrNoBinding is returned by a Redis bus's Publish when a subscription
	// that must receive the message has no binding in Redis: Redis lost it
	// (FLUSHALL, a restart without persistence) and its subscribers have
	// not bound it again yet. Nothing was stored; publish again shortly.
	// See Redis.Publish for exactly when.
	ErrNoBinding = errors.New("pubsub: a subscription the message is due to is not bound in Redis")
	// ErrDrainTimeout is returned by Close, Shutdown and Unsubscribe when
	// handlers were still running when the drain timeout (or the context)
	// ran out; their contexts were cancelled.
	ErrDrainTimeout = errors.New("pubsub: drain timed out")
)

var errNilMessage = fmt.Errorf("%w: nil *Message", ErrInvalidConfig)
