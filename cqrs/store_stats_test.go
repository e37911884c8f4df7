package cqrs

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statser is a store that counts its appends.
type statser interface{ Stats() StoreStats }

var (
	_ statser = (*MemoryStore)(nil)
	_ statser = (*RedisStore)(nil)
)

func TestStoreStatsCountAppendsConflictsAndErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		s := st.newStore()
		mustAppend(t, s, "a", NoStream, deposited(1), deposited(2))
		mustAppend(t, s, "a", 2, deposited(3))
		_, err := s.Append(ctx, "a", 1, deposited(4))
		require.ErrorIs(t, err, ErrConflict)
		_, err = s.Append(ctx, "", AnyVersion, deposited(5))
		require.ErrorIs(t, err, ErrInvalidArgument)
		assert.Equal(t, StoreStats{Appends: 2, Appended: 3, Conflicts: 1, Errors: 1}, s.(statser).Stats())
	})
}
