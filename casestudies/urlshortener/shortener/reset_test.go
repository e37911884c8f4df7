package shortener

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testStatsResetOnDelete: deleting a link ends its statistics in
// analytics (Config.Reset on link-deleted; link-created resets too, should
// a code ever be reused), so the read model does not keep the clicks of
// links that are gone; on every backend.
func testStatsResetOnDelete(t *testing.T, mk starter) {
	s := mk(t, Config{})
	ctx := context.Background()
	const alias = "short-lived"
	const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	total := func() int64 {
		st, err := s.srv.analytics.Stats(ctx, alias)
		require.NoError(t, err)
		return st.Total
	}
	s.mustCreate(map[string]any{"url": "https://example.com/short-lived", "alias": alias})
	for range 2 {
		require.Equal(t, http.StatusFound, s.get("/"+alias, "User-Agent", browser).status)
	}
	require.Eventually(t, func() bool { return total() == 2 }, 10*time.Second, 20*time.Millisecond, "the link's clicks")
	require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/api/links/"+alias, nil).status)
	require.Eventually(t, func() bool { return total() == 0 }, 10*time.Second, 20*time.Millisecond, "its statistics dropped with it")
}
