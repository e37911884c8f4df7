package cache

import (
	"fmt"
	"time"
)

// lruConfig is what NewLRU's options set.
type lruConfig struct {
	now     func() time.Time // nil: the real clock
	shards  int
	maxCost int64 // 0: no cost bound
	costFn  any   // func(V) int64, checked against V by NewLRU
	tinyLFU bool
}

type lruOptionFunc func(*lruConfig) error

func (f lruOptionFunc) applyLRU(c *lruConfig) error { return f(c) }

// WithShards splits an LRU into n independently locked shards (1 to
// MaxShards; default DefaultShards), trading exactness for parallel
// throughput. A key belongs to the shard its hash picks, and each shard is
// an exact LRU over its own keys with its own share of the capacity and of
// WithMaxCost's budget (capacity/n entries and maxCost/n, spread so that
// they add up to the totals). So with n > 1, unlike the default:
//
//   - eviction is per-shard LRU: the entry evicted is the least recently
//     used of the new key's shard, not necessarily of the cache;
//   - the cache may evict before it holds capacity entries, and before
//     its values cost maxCost in total: keys do not spread over shards
//     perfectly evenly, and a shard that is full evicts while others have
//     room;
//   - a value costing more than maxCost/n is never stored, even in an
//     empty cache;
//   - with WithTinyLFU, each shard has its own frequency sketch.
//
// In exchange, goroutines reading different keys rarely wait for one
// another's lock. One shard is the default: exact global LRU, exact
// capacity and cost bound, one lock for all callers (a Get hit holds it
// for tens of nanoseconds). Consider n > 1, e.g. 4 × GOMAXPROCS, only when
// profiles show contention on that lock, and size capacity with room to
// spare. n must not exceed the capacity (nor maxCost).
func WithShards(n int) LRUOption {
	return lruOptionFunc(func(c *lruConfig) error {
		if n < 1 || n > MaxShards {
			return fmt.Errorf("%w: WithShards(%d): must be from 1 to %d", ErrInvalidConfig, n, MaxShards)
		}
		c.shards = n
		return nil
	})
}

// WithMaxCost bounds an LRU by the total cost of its values as well as by
// their number: cost(v) is called once per Set, and the least recently
// used entries are evicted until the total is at most maxCost, and a value
// costing more than maxCost is not stored (counted as a rejection). With
// WithShards(n), n > 1, each shard has maxCost/n of the budget, and that
// is the most a single value may cost. cost must be a func(V) int64 for
// the LRU's V (NewLRU checks: option types carry no V), never negative:
// typically a size in bytes.
func WithMaxCost[V any](maxCost int64, cost func(V) int64) LRUOption {
	return lruOptionFunc(func(c *lruConfig) error {
		if maxCost < 1 {
			return fmt.Errorf("%w: WithMaxCost(%d, …): must be at least 1", ErrInvalidConfig, maxCost)
		}
		if cost == nil {
			return fmt.Errorf("%w: WithMaxCost: nil cost function", ErrInvalidConfig)
		}
		c.maxCost, c.costFn = maxCost, cost
		return nil
	})
}

// WithTinyLFU turns on W-TinyLFU (Einziger et al., the policy of
// Caffeine) for an LRU, in place of plain LRU eviction. Each shard (the
// whole LRU by default) is split in three LRU lists: a small window that
// every new key enters (so a new key is always stored, and a burst of
// them is served from the window), and a main region of probation and
// protected entries. When the window overflows, its least recently used
// key may enter the main region only if it has been asked for (with Get)
// more often recently than the entry it would displace, as estimated by a
// count-min sketch with a doorkeeper; otherwise it is dropped (counted in
// Stats.Rejections). A probation entry hit again moves to protected (80%
// of the main region). The window starts at 1% of the capacity and a hill
// climber resizes it every 10 × capacity lookups towards the size that
// gives the best hit rate, so traffic that recency serves better than
// frequency (the same keys coming back soon, then never) gets a window as
// big as it needs.
//
// Scans and one-hit wonders then no longer flush the hot set, which lifts
// hit ratios on skewed traffic: on a Zipf(1.01) trace of 100k keys at
// capacity 10k, about 0.80 against plain LRU's 0.75 (a perfect LFU that
// counts every request ever made gets 0.80 too; only an oracle knowing
// the future, 0.85, does better). It costs each shard a sketch of 16 to
// 32 bytes per entry of capacity, and a hit a sketch update (a few
// nanoseconds, under the shard's lock). Off by default: every Set is then
// stored, and (with the default single shard) the LRU is exact LRU.
func WithTinyLFU() LRUOption {
	return lruOptionFunc(func(c *lruConfig) error {
		c.tinyLFU = true
		return nil
	})
}
