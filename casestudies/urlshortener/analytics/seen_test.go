package analytics

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSeenIDsForgetsTheOldestPastItsCapacity(t *testing.T) {
	s := newSeenIDs()
	assert.True(t, s.add("first"))
	assert.False(t, s.add("first"))
	for i := range seenCapacity - 1 {
		assert.True(t, s.add(fmt.Sprint(i)))
	}
	assert.False(t, s.add("first"), "still remembered: exactly at capacity")
	assert.True(t, s.add("one more"))
	assert.True(t, s.add("first"), "the oldest was forgotten")
	assert.Len(t, s.set, seenCapacity)
}
