package pubsub

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Depths implements DepthReporter for what this bus consumes: one Depth
// per group that has a running subscription in this process (once,
// however many of its members run here) and one per plain subscription.
// A bus that only publishes reports none: read the depths where the
// consumers run. Every process consuming a group reports the same numbers
// for it (they are the group's, read from Redis), so aggregate them with
// max, not sum.
//
// It costs one XINFO GROUPS per group, on the group's stream (no scan of
// the keyspace), and, where Redis reports no usable lag (before Redis
// 7.0, on miniredis), one XRANGE of at most DepthCountLimit+1 entries to
// count the undelivered ones. All of it returns within WithTimeout (or
// ctx's deadline), whatever Redis does: when Redis is down, slow or
// refuses, Depths returns the error (context.DeadlineExceeded when it ran
// out of time) and no depths. A group that Redis no longer has (DeleteGroup,
// or Redis lost its data and the group is not bound again yet) is left
// out.
func (b *Redis) Depths(ctx context.Context) ([]Depth, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	targets := b.depthTargets()
	start := time.Now()
	out := make([]Depth, 0, len(targets))
	for _, tg := range targets {
		d, ok, err := b.depth(ctx, start, tg)
		if err != nil {
			return nil, fmt.Errorf("pubsub: reading the depth of %s: %w", tg.name(), err)
		}
		if ok {
			out = append(out, d)
		}
	}
	sortDepths(out)
	return out, nil
}

// depthTarget is a group whose depth Depths reads.
type depthTarget struct {
	group, pattern, stream string
	plain                  bool
}

func (t depthTarget) name() string {
	if t.plain {
		return t.pattern
	}
	return t.group
}

// depthTargets lists the groups of the running subscriptions, one per
// stream, in stream order.
func (b *Redis) depthTargets() []depthTarget {
	b.mu.Lock()
	out := make([]depthTarget, 0, len(b.subs))
	seen := make(map[string]struct{}, len(b.subs))
	for s := range b.subs {
		if _, ok := seen[s.stream]; ok {
			continue
		}
		seen[s.stream] = struct{}{}
		out = append(out, depthTarget{group: s.group, pattern: s.pattern, stream: s.stream, plain: s.ephemeral})
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].stream < out[j].stream })
	return out
}

// depth reads one group's depth, within what is left of the bus's timeout
// since start; ok is false when Redis no longer has the group.
func (b *Redis) depth(ctx context.Context, start time.Time, tg depthTarget) (d Depth, ok bool, err error) {
	bound, err := b.left(start)
	if err != nil {
		return Depth{}, false, err
	}
	groups, err := redisx.Do(ctx, bound, func(ctx context.Context) ([]redis.XInfoGroup, error) {
		cmd := redis.NewXInfoGroupsCmd(ctx, tg.stream)
		cmd.SetFirstKeyPos(2) // route it to the stream's slot on a Cluster
		_ = b.client.Process(ctx, cmd)
		return cmd.Result()
	})
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return Depth{}, false, nil
		}
		return Depth{}, false, err
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == tg.group {
			g = &groups[i]
		}
	}
	if g == nil {
		return Depth{}, false, nil
	}
	d = Depth{Pattern: tg.pattern, Consumers: g.Consumers, InFlight: g.Pending}
	if !tg.plain {
		d.Group = tg.group
	}
	// go-redis reports a null entries-read as 0: a lag is trusted only
	// with a counter behind it (miniredis reports the stream's length).
	if g.Lag >= 0 && g.EntriesRead > 0 {
		d.Queued = g.Lag
		return d, true, nil
	}
	n, err := b.countAfter(ctx, start, tg.stream, g.LastDeliveredID)
	switch {
	case err != nil:
		return Depth{}, false, err
	case n <= DepthCountLimit:
		d.Queued = n
	default:
		d.Queued, d.QueuedUnknown = DepthCountLimit, true
	}
	return d, true, nil
}

// countAfter counts the entries of stream after id, up to
// DepthCountLimit+1.
func (b *Redis) countAfter(ctx context.Context, start time.Time, stream, id string) (int64, error) {
	bound, err := b.left(start)
	if err != nil {
		return 0, err
	}
	if id == "" {
		id = "0-0"
	}
	// Inclusive from id (an exclusive "(" range needs Redis 6.2), so one
	// more than the limit, less id itself if it is still there.
	es, err := redisx.Do(ctx, bound, func(ctx context.Context) ([]redis.XMessage, error) {
		return b.client.XRangeN(ctx, stream, id, "+", DepthCountLimit+2).Result()
	})
	if err != nil {
		return 0, err
	}
	n := int64(len(es))
	if n > 0 && es[0].ID == id {
		n--
	}
	return n, nil
}
