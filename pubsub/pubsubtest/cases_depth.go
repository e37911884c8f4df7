package pubsubtest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sysdesign/patterns/pubsub"
)

// DepthsReportBacklog (pubsub.DepthReporter): while a group's only handler
// is blocked, what was published to it is queued or in flight (Queued +
// InFlight = what was published, at least one in flight), for the group
// by name and for a plain subscription (Group ""); once the handlers
// return, both are zero.
func DepthsReportBacklog(t *testing.T, be Backend) {
	b := be.NewBus(t)
	dr, ok := b.(pubsub.DepthReporter)
	if !ok {
		t.Skip("the bus is not a pubsub.DepthReporter")
	}
	started, release := make(chan string, 16), make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	blocked := func(ctx context.Context, m *pubsub.Message) error {
		started <- string(m.Payload)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	mustSub(t, b, "dp.*", blocked, pubsub.WithGroup("depth"))
	mustSub(t, b, "dp.x", blocked)
	const n = 5
	for i := range n {
		mustPub(t, b, "dp.x", strconv.Itoa(i))
	}
	recvOrFail(t, started)
	recvOrFail(t, started)
	keys := []depthKey{{"", "dp.x"}, {"depth", "dp.*"}}
	waitForDepths(t, dr, keys, func(d pubsub.Depth) error {
		if d.QueuedUnknown || d.Queued+d.InFlight != n || d.InFlight < 1 {
			return fmt.Errorf("want %d queued or in flight, at least one in flight", n)
		}
		return nil
	})
	close(release)
	waitForDepths(t, dr, keys, func(d pubsub.Depth) error {
		if d.Queued != 0 || d.InFlight != 0 || d.QueuedUnknown {
			return fmt.Errorf("want nothing queued or in flight")
		}
		return nil
	})
}

type depthKey struct{ group, pattern string }

// waitForDepths polls dr until it reports exactly one Depth for each of
// keys, none other, and check accepts each, failing after waitLimit with
// the last reading.
func waitForDepths(t *testing.T, dr pubsub.DepthReporter, keys []depthKey, check func(pubsub.Depth) error) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ds, err := dr.Depths(context.Background())
		if err != nil {
			last = err
			continue
		}
		if last = checkDepths(ds, keys, check); last == nil {
			return
		}
	}
	t.Fatalf("depths: %v", last)
}

func checkDepths(ds []pubsub.Depth, keys []depthKey, check func(pubsub.Depth) error) error {
	if len(ds) != len(keys) {
		return fmt.Errorf("got %+v, want one for each of %v", ds, keys)
	}
	for _, k := range keys {
		found := 0
		for _, d := range ds {
			if d.Group != k.group || d.Pattern != k.pattern {
				continue
			}
			found++
			if err := check(d); err != nil {
				return fmt.Errorf("%+v: %w", d, err)
			}
		}
		if found != 1 {
			return fmt.Errorf("got %+v, want one depth of %v", ds, k)
		}
	}
	return nil
}
