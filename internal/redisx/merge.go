package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Merge lets the coalescer send the pipelined Evals of one kind as one
// script call: calls on one key each, whose script reads the same shared
// arguments, and whose decisions can be made one after another by a
// script that loops. Each script call costs Redis about as much as the
// work of a small script (a ratelimit decision), and a TIME the loop reads
// once instead of once per call; merging halves a decision's server time.
//
// Script takes the merged calls' keys, in pipeline order, and as ARGV
// Shared followed by the first PerCall args of each call; it returns an
// array with one element per key: that call's reply, or an error reply
// that fails that call alone. Calls are merged only with calls of the
// same *Merge, and on a Cluster only with calls whose key is in the same
// hash slot; a call that finds no partner goes on its own, with its own
// script and args. A lone call (nothing else in flight) always does.
type Merge struct {
	Script  *redis.Script
	Shared  []any
	PerCall int
}

// merged is one script call carrying several calls of one Merge.
type merged struct {
	m     *Merge
	slot  int
	calls []*call
	keys  []string
	args  []any
	cmd   *redis.Cmd
}

// mergeable reports whether w may share a script call.
func mergeable(w *call) bool {
	return w.merge != nil && len(w.keys) == 1 && len(w.args) >= w.merge.PerCall
}

// groupMerged sorts live's mergeable calls into script calls, by Merge
// and (on a Cluster) hash slot, and returns those of two calls or more;
// the calls it returns are marked, so the caller sends the others alone.
// Counting first keeps a pipeline of calls that find no partner (distinct
// slots on a Cluster) free of allocations.
func groupMerged(live []*call, cluster bool) []*merged {
	type tally struct {
		m       *Merge
		slot, n int
	}
	var buf [32]tally
	tallies := buf[:0]
	pairs := false
	for _, w := range live {
		if !mergeable(w) {
			continue
		}
		w.slot = 0
		if cluster {
			w.slot = Slot(w.keys[0])
		}
		found := false
		for i := range tallies {
			if t := &tallies[i]; t.m == w.merge && t.slot == w.slot {
				t.n++
				found, pairs = true, true
				break
			}
		}
		if !found {
			tallies = append(tallies, tally{w.merge, w.slot, 1})
		}
	}
	if !pairs {
		return nil
	}
	var groups []*merged
	for _, t := range tallies {
		if t.n < 2 {
			continue
		}
		g := &merged{m: t.m, slot: t.slot, calls: make([]*call, 0, t.n), keys: make([]string, 0, t.n)}
		g.args = make([]any, 0, len(t.m.Shared)+t.n*t.m.PerCall)
		g.args = append(g.args, t.m.Shared...)
		for _, w := range live {
			if mergeable(w) && w.merge == t.m && w.slot == t.slot {
				g.calls = append(g.calls, w)
				g.keys = append(g.keys, w.keys[0])
				g.args = append(g.args, w.args[:t.m.PerCall]...)
				w.inMerge = true
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// split gives each call of g its element of the merged reply, as a
// command of its own.
func (g *merged) split(ctx context.Context) {
	err := g.cmd.Err()
	vals, ok := g.cmd.Val().([]any)
	if err == nil && (!ok || len(vals) != len(g.calls)) {
		err = fmt.Errorf("%w: %T of %d for %d merged calls", ErrBadReply, g.cmd.Val(), len(vals), len(g.calls))
	}
	for i, w := range g.calls {
		cmd := redis.NewCmd(ctx)
		switch {
		case err != nil:
			cmd.SetErr(err)
		default:
			if e, ok := vals[i].(error); ok {
				cmd.SetErr(e)
			} else {
				cmd.SetVal(vals[i])
			}
		}
		w.cmd = cmd
	}
}
