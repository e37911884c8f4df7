package cache

import (
	"fmt"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Every name this package gives Redis is a prefix, then a marker that
// starts with "{}", then (for keys) the user's key:
//
//	prefix + "{}v:" + key     a Redis or Tiered cache entry
//	prefix + "{}l:" + key     Aside's fleet lock of key
//	prefix + "{}released"     the fleet lock's channel
//	prefix + "{}invalidate"   Tiered's invalidation channel
//
// A prefix holds no brace (checkPrefix), so the first brace of a name is
// where its prefix ends: two names are equal only with equal prefixes and
// equal markers, and no marker is the start of another. The namespaces are
// therefore disjoint whatever the keys and prefixes: no cache key can be
// read as a lock, however it is spelt. The empty hash tag "{}" also makes
// Redis Cluster hash the whole name, so braces in a user's key never pick
// its slot.
const (
	entryMarker      = "{}v:"
	lockMarker       = "{}l:"
	releasedMarker   = "{}released"
	invalidateMarker = "{}invalidate"
)

// checkPrefix accepts a WithPrefix value: not empty (it would mix the
// cache's names with other data) and without braces (they would blur
// where the prefix ends, and with it the namespaces).
func checkPrefix(p string) error {
	if p == "" {
		return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix cache keys with other data", ErrInvalidConfig)
	}
	if err := redisx.CheckPrefix(p); err != nil {
		return fmt.Errorf("%w: WithPrefix: %w (braces mark where this package's namespaces begin)", ErrInvalidConfig, err)
	}
	return nil
}
