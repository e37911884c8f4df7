package cache

import (
	"testing"
	"unsafe"
)

// The shard layout keeps a hit's writes on one cache line and shards on
// lines of their own; a field added in the wrong place shows here.
func TestShardLayout(t *testing.T) {
	var s shard[int]
	if size := unsafe.Sizeof(s); size%64 != 0 {
		t.Errorf("shard is %d bytes, not a multiple of 64", size)
	}
	if end := unsafe.Offsetof(s.misses) + unsafe.Sizeof(s.misses); end > 64 {
		t.Errorf("hot fields end at byte %d, past the first cache line", end)
	}
	if end := unsafe.Offsetof(s.index) + unsafe.Sizeof(s.index); end > 64 {
		t.Errorf("index header ends at byte %d, past the first cache line", end)
	}
}
