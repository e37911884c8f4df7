package notify

import (
	"fmt"

	"github.com/sysdesign/patterns/breaker"
)

// buildRedis makes the Redis backends.
func (s *Service) buildRedis() error {
	return fmt.Errorf("%w: Redis backends are not built yet", ErrInvalidConfig)
}

// breakerStore shares the breakers through Redis when configured.
func (s *Service) breakerStore(cfg *breaker.Config) error { return nil }
