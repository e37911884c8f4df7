package cqrs

import (
	"context"
	"encoding/json"
	"fmt"
)

// WithPrefetch makes a RedisReadModel read, before it applies a batch,
// the values its handler will read, in one HMGET: keyOf names the key an
// event's handler reads (ok false: none). Without it each key the
// handler reads costs a round trip of its own (an HGET), one after the
// other; a projection that keys its values by stream reads one value per
// stream in the batch. A key the handler reads that keyOf did not name
// is still read when asked for, so a keyOf that misses some keys costs
// round trips, never correctness. keyOf runs once per event and must not
// block. The values are as consistent as those read one by one: the batch
// commits only if the model is still where it was when the batch began.
func WithPrefetch(keyOf func(Event) (key string, ok bool)) ReadModelOption {
	return readModelOption(func(o *options) error {
		if keyOf == nil {
			return fmt.Errorf("%w: WithPrefetch(nil)", ErrInvalidConfig)
		}
		o.prefetch = keyOf
		return nil
	})
}

// prefetch fills tx with the values under the keys that m.keyOf names for
// events, read from hash in one call.
func (m *RedisReadModel[V]) prefetch(ctx context.Context, hash string, tx *Tx[V], events []Event) error {
	seen := make(map[string]bool, len(events))
	keys := make([]string, 0, len(events))
	for _, e := range events {
		if k, ok := m.keyOf(e); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	var vals []any
	err := m.call.do(ctx, func(ctx context.Context) error {
		var err error
		vals, err = m.call.client.HMGet(ctx, hash, keys...).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("cqrs: read model %s: prefetch of %d keys: %w", m.name, len(keys), err)
	}
	if len(vals) != len(keys) {
		return errBadReply
	}
	for i, k := range keys {
		e := &txEntry[V]{}
		if raw, ok := vals[i].(string); ok {
			if err := json.Unmarshal([]byte(raw), &e.v); err != nil {
				return fmt.Errorf("cqrs: read model %s: decoding %q: %w", m.name, k, err)
			}
			e.present = true
		}
		tx.entries[k] = e
	}
	return nil
}
