package cqrs

import "fmt"

// checkCheckpoint refuses a negative position, for every CheckpointStore
// of the package.
func checkCheckpoint(name string, pos int64) error {
	if pos < 0 {
		return fmt.Errorf("%w: checkpoint %q: negative position %d", ErrInvalidArgument, name, pos)
	}
	return nil
}
