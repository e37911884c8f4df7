package analytics

import (
	"time"
)

// EventClicks is the type of the click events the store holds since
// batching: one event per link, UTC day and batch, counting the clicks
// alike in minute, referrer host and user agent. Events of the older type
// EventClicked (one click each) are still read and projected, so a history
// written before batching rebuilds with it.
const EventClicks = "urlshortener.clicks.v2"

// Batching of clicks between Record and the bus.
const (
	// DefaultBatchSize is how many clicks a publisher collects at most
	// before it publishes them.
	DefaultBatchSize = 1024
	// DefaultBatchWindow is how long a publisher waits for more clicks
	// after the first one it holds: what batching adds to the statistics'
	// delay.
	DefaultBatchWindow = 20 * time.Millisecond
)

// clickBatch is the clicks of one link on one UTC day, as they travel on
// the bus and are stored (EventClicks). Its id makes a redelivery or a
// retried append count once.
type clickBatch struct {
	ID     string       `json:"id"`
	Code   string       `json:"code"`
	Groups []clickGroup `json:"clicks"`
}

// clickGroup is N clicks alike: same minute, referrer host and user agent.
// Keeping the user agent lets a statistic added later (Browser) be
// backfilled by Rebuild; keeping the minute leaves room for statistics
// finer than the hour.
type clickGroup struct {
	At        time.Time `json:"at"`
	Host      string    `json:"ref,omitempty"`
	UserAgent string    `json:"ua,omitempty"`
	N         int64     `json:"n"`
}

// clicks returns how many clicks the batch holds.
func (b *clickBatch) clicks() int64 {
	var n int64
	for _, g := range b.Groups {
		n += g.N
	}
	return n
}

// day is the UTC day of the batch's clicks.
func (b *clickBatch) day() string {
	if len(b.Groups) == 0 {
		return ""
	}
	return b.Groups[0].At.UTC().Format(DayLayout)
}

// batchKey picks a batch: one per link and UTC day (the day names the
// stream the batch is stored in).
type batchKey struct {
	code string
	day  int64 // days since the epoch
}

// groupKey picks a group within a batch.
type groupKey struct {
	minute   int64 // minutes since the epoch
	host, ua string
}

// collector turns a publisher's clicks into batches. Not safe for
// concurrent use: each publisher has its own. Its memory is bounded by
// the clicks it holds (DefaultBatchSize at most).
type collector struct {
	batches map[batchKey]*pendingBatch
	held    int
}

type pendingBatch struct {
	batch  clickBatch
	groups map[groupKey]int // index in batch.Groups
}

func newCollector() *collector {
	return &collector{batches: make(map[batchKey]*pendingBatch)}
}

// add counts one click, reduced to what is kept (see newRecord).
func (c *collector) add(r clickRecord) {
	at := r.At.UTC().Truncate(time.Minute)
	minute := at.Unix() / 60
	bk := batchKey{code: r.Code, day: minute / (24 * 60)}
	p := c.batches[bk]
	if p == nil {
		p = &pendingBatch{batch: clickBatch{Code: r.Code}, groups: make(map[groupKey]int)}
		c.batches[bk] = p
	}
	gk := groupKey{minute: minute, host: r.Host, ua: r.UserAgent}
	if i, ok := p.groups[gk]; ok {
		p.batch.Groups[i].N++
	} else {
		p.groups[gk] = len(p.batch.Groups)
		p.batch.Groups = append(p.batch.Groups, clickGroup{At: at, Host: r.Host, UserAgent: r.UserAgent, N: 1})
	}
	c.held++
}

// take returns the batches collected (each with a fresh id) and empties
// the collector.
func (c *collector) take() []clickBatch {
	out := make([]clickBatch, 0, len(c.batches))
	for k, p := range c.batches {
		p.batch.ID = newID()
		out = append(out, p.batch)
		delete(c.batches, k)
	}
	c.held = 0
	return out
}
