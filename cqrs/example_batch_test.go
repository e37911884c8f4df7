package cqrs_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sysdesign/patterns/cqrs"
)

// Several streams in one call (one round trip on Redis): each item stands
// or falls on its own, and items take their positions in batch order.
func ExampleAppendBatch() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	_, _ = store.Append(ctx, "inbox-bob", cqrs.NoStream, cqrs.MustEvent("Delivered", nil))

	res, err := cqrs.AppendBatch(ctx, store, []cqrs.StreamAppend{
		{StreamID: "inbox-ann", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{cqrs.MustEvent("Delivered", nil).WithID("n-1")}},
		{StreamID: "inbox-bob", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{cqrs.MustEvent("Delivered", nil).WithID("n-2")}},
		{StreamID: "inbox-cy", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{cqrs.MustEvent("Delivered", nil).WithID("n-3")}},
	})
	if err != nil {
		// The call as a whole failed: which items landed is unknown;
		// sending the batch again is safe, the events have ids.
		fmt.Println("retry the batch:", err)
		return
	}
	for _, r := range res {
		if errors.Is(r.Err, cqrs.ErrConflict) {
			fmt.Println("conflict:", r.Err)
			continue
		}
		fmt.Println("version", r.Version, "position", r.Position)
	}
	// Output:
	// version 1 position 2
	// conflict: cqrs: stream "inbox-bob": expected version NoStream (0), stream is at 1
	// version 1 position 3
}
