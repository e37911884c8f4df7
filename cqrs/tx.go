package cqrs

import (
	"context"
	"strconv"
)

// ModelHandler applies one event to a key-value read model through tx:
// it reads entries with tx.Get and changes them with tx.Put and
// tx.Delete. Events it does not care about it ignores (returns nil). An
// error stops the batch: none of its changes are stored.
type ModelHandler[V any] func(ctx context.Context, tx *Tx[V], e Event) error

// Tx collects the changes a batch of events makes to a read model, so that
// they are stored together with the checkpoint, or not at all. Get sees the
// batch's own changes. A Tx is used by one goroutine.
type Tx[V any] struct {
	read    func(ctx context.Context, key string) (V, bool, error)
	entries map[string]*txEntry[V]
}

type txEntry[V any] struct {
	v       V
	present bool // a value is there (read, or put)
	dirty   bool // changed in this batch
}

func newTx[V any](read func(ctx context.Context, key string) (V, bool, error)) *Tx[V] {
	return &Tx[V]{read: read, entries: make(map[string]*txEntry[V])}
}

// Get returns the entry under key, as changed by the batch so far.
func (tx *Tx[V]) Get(ctx context.Context, key string) (V, bool, error) {
	if e, ok := tx.entries[key]; ok {
		return e.v, e.present, nil
	}
	v, ok, err := tx.read(ctx, key)
	if err != nil {
		var zero V
		return zero, false, err
	}
	tx.entries[key] = &txEntry[V]{v: v, present: ok}
	return v, ok, nil
}

// Put sets the entry under key to v.
func (tx *Tx[V]) Put(key string, v V) {
	tx.entries[key] = &txEntry[V]{v: v, present: true, dirty: true}
}

// Delete removes the entry under key.
func (tx *Tx[V]) Delete(key string) {
	tx.entries[key] = &txEntry[V]{dirty: true}
}

// applyAll runs h for events on a new Tx over read.
func applyAll[V any](ctx context.Context, name string, h ModelHandler[V], read func(context.Context, string) (V, bool, error), events []Event) (*Tx[V], error) {
	tx := newTx(read)
	if err := applyTx(ctx, name, h, tx, events); err != nil {
		return nil, err
	}
	return tx, nil
}

// applyTx runs h for events on tx.
func applyTx[V any](ctx context.Context, name string, h ModelHandler[V], tx *Tx[V], events []Event) error {
	for _, e := range events {
		if err := h(ctx, tx, e); err != nil {
			return &applyError{name: name, e: e, err: err}
		}
	}
	return nil
}

type applyError struct {
	name string
	e    Event
	err  error
}

func (a *applyError) Error() string {
	return "cqrs: projection " + a.name + ": " + a.e.Type + " event " + a.e.StreamID + "@" + itoa(a.e.Version) + " (position " + itoa(a.e.Position) + "): " + a.err.Error()
}

func (a *applyError) Unwrap() error { return a.err }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
