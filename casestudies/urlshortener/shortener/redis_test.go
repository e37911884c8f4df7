package shortener

import (
	"fmt"
	"testing"

	"github.com/sysdesign/patterns/internal/redistest"
)

// onRedis serves each Config on tg, every service under a prefix of its own
// (a service started with a Prefix keeps it, to share another's state).
func onRedis(tg *redistest.Target) starter {
	n := 0
	return func(t *testing.T, cfg Config) *service {
		if cfg.Redis == nil {
			n++
			cfg.Redis = tg.Client
			cfg.Prefix = fmt.Sprintf("%ss%d:", tg.Prefix, n)
		}
		return start(t, cfg)
	}
}

func TestRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		runSuite(t, onRedis(tg))
	})
}
