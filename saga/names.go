package saga

import (
	"fmt"
	"strings"

	"github.com/sysdesign/patterns/internal/redisx"
)

// checkSagaName accepts a saga name that can neither pick a RedisLog hash
// tag nor make StepKey ambiguous: not empty, without braces (RedisLog puts
// the name inside its tag {name:shard}, and a brace would let one name
// reach another saga's keys) and without '/' (StepKey joins saga, id and
// step with it, so that a saga "a/b" with id "c" and a saga "a" with id
// "b/c" would share keys). Errors wrap ErrInvalidConfig.
func checkSagaName(name string) error {
	if err := redisx.CheckName("saga name", name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%w: saga name %q contains '/', which StepKey uses as its separator", ErrInvalidConfig, name)
	}
	return nil
}

// checkStepName accepts a step name: not empty, and without '/' (see
// checkSagaName). Errors wrap ErrInvalidConfig.
func checkStepName(saga string, i int, name string) error {
	if name == "" {
		return fmt.Errorf("%w: saga %q: step %d has an empty name", ErrInvalidConfig, saga, i)
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%w: saga %q: step %q contains '/', which StepKey uses as its separator", ErrInvalidConfig, saga, name)
	}
	return nil
}

// checkLogKey validates the saga name and id a Log call is given, so that
// a Log used directly is as safe as one used through a Saga.
func checkLogKey(saga, id string) error {
	if err := checkSagaName(saga); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("%w: empty id for saga %q", ErrInvalidID, saga)
	}
	return nil
}
