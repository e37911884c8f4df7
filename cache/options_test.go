package cache

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"github.com/sysdesign/patterns/internal/redistest"
)

// Each option fits the constructors it implements the option type of, and
// no other: a misfit is a compile error, so there is no run-time check to
// test. These assertions pin down which options fit where.
var (
	_ LRUAndAsideOption = WithClock(nil)

	_ LRUOption = WithShards(1)
	_ LRUOption = WithMaxCost[int](1, nil)
	_ LRUOption = WithTinyLFU()

	_ RedisAndFleetLockOption = WithPrefix("")
	_ RedisAndFleetLockOption = WithTimeout(0)
	_ RedisAndFleetLockOption = WithoutTimeout()
	_ RedisOption             = WithCodec(nil)

	_ AsideOption     = WithTTL(0)
	_ AsideOption     = WithNegativeTTL(0)
	_ AsideOption     = WithoutNegativeCaching()
	_ AsideOption     = WithJitter(0)
	_ AsideOption     = WithEarlyRefresh(0)
	_ AsideOption     = WithoutEarlyRefresh()
	_ AsideOption     = WithLoadTimeout(0)
	_ AsideOption     = WithFleetLock(nil)
	_ FleetLockOption = WithLockWait(0)

	_ AsideAndTieredOption = WithObserver(nil)
	_ AsideAndTieredOption = WithLogger(nil)
	_ AsideAndTieredOption = WithOnError(nil)
	_ TieredOption         = WithLocalTTL(0)
	_ TieredOption         = WithChannel("")
)

func TestAsideConfig(t *testing.T) {
	lru := mustLRU[string](t, 10)
	load := newSource().load
	rdb := redistest.New(t, redistest.Mini).Client
	var nilClient *redis.Client
	for name, opts := range map[string][]AsideOption{
		"zero TTL":          {WithTTL(0)},
		"negative neg TTL":  {WithNegativeTTL(-time.Second)},
		"jitter 1":          {WithJitter(1)},
		"negative jitter":   {WithJitter(-0.1)},
		"beta 0":            {WithEarlyRefresh(0)},
		"zero load timeout": {WithLoadTimeout(0)},
		"nil hook":          {WithOnError(nil)},
		"nil observer":      {WithObserver(nil)},
		"nil option":        {nil},
		"nil fleet lock":    {WithFleetLock(nil)},
		"typed nil lock":    {WithFleetLock(nilClient)},
		"zero lock wait":    {WithFleetLock(rdb, WithLockWait(0))},
		"zero lock timeout": {WithFleetLock(rdb, WithTimeout(0))},
		"empty lock prefix": {WithFleetLock(rdb, WithPrefix(""))},
		"nil lock option":   {WithFleetLock(rdb, nil)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewAside(lru, load, opts...)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	_, err := NewAside[string](nil, load)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewAside[string](lru, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	var nilLRU *LRU[string]
	_, err = NewAside[string](nilLRU, load)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
