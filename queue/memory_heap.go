package queue

import (
	"container/heap"
	"time"
)

// item is a job held by Memory.
type item struct {
	job        Job // Priority resolved, RunAt = due
	due        time.Time
	score      int64  // ordering among due jobs: due µs − priority × aging µs
	seq        uint64 // enqueue order, the tie-breaker: FIFO
	attempt    int    // the Attempt of its next delivery
	enqueuedAt time.Time
	lease      string // non-empty while leased
	index      int    // position in the heap holding it, -1 if none
}

// agedScore orders due jobs: a job that waited one aging period longer
// ranks as one priority higher, so lower is sooner.
func agedScore(due time.Time, p Priority, aging time.Duration) int64 {
	return due.UnixMicro() - int64(p)*aging.Microseconds()
}

// itemHeap is a min-heap of items by less, tracking each item's index so
// that Cancel removes from the middle in O(log n).
type itemHeap struct {
	items []*item
	less  func(a, b *item) bool
}

func byScore(a, b *item) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.seq < b.seq
}

func byDue(a, b *item) bool {
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.seq < b.seq
}

func (h *itemHeap) Len() int           { return len(h.items) }
func (h *itemHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *itemHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}

func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(h.items)
	h.items = append(h.items, it)
}

func (h *itemHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	it.index = -1
	return it
}

func (h *itemHeap) push(it *item) { heap.Push(h, it) }
func (h *itemHeap) pop() *item    { return heap.Pop(h).(*item) }
func (h *itemHeap) peek() *item   { return h.items[0] }
func (h *itemHeap) remove(it *item) {
	if it.index >= 0 && it.index < len(h.items) && h.items[it.index] == it {
		heap.Remove(h, it.index)
	}
}
