package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
)

// MessagePublisher is a bus that publishes metadata too: Memory, Redis and
// Broadcast are.
type MessagePublisher interface {
	PublishMessage(ctx context.Context, m *Message) error
}

// ContentType is the metadata key PublishJSON sets to "application/json"
// when the bus carries metadata.
const ContentType = "content-type"

// PublishJSON publishes v encoded as JSON.
func PublishJSON(ctx context.Context, b Bus, topic string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("pubsub: encoding %T for %s: %w", v, topic, err)
	}
	if mp, ok := b.(MessagePublisher); ok {
		return mp.PublishMessage(ctx, &Message{Topic: topic, Payload: payload,
			Metadata: map[string]string{ContentType: "application/json"}})
	}
	return b.Publish(ctx, topic, payload)
}

// Decode decodes a JSON message into a T.
func Decode[T any](m *Message) (T, error) {
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		return v, fmt.Errorf("pubsub: decoding message %s on %s into %T: %w", m.ID, m.Topic, v, err)
	}
	return v, nil
}

// JSONHandler adapts a function of a decoded value into a Handler. A
// message that does not decode is an error like any other (retried, then
// dead-lettered).
func JSONHandler[T any](fn func(ctx context.Context, v T, m *Message) error) Handler {
	return func(ctx context.Context, m *Message) error {
		v, err := Decode[T](m)
		if err != nil {
			return err
		}
		return fn(ctx, v, m)
	}
}
