package shortener

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

func TestTour(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, Tour(ctx, &out, Config{}), "%s", out.String())
	for _, want := range []string{"→ 201", "with the same code", "→ 302 Location", "5 human clicks, 1 bot", "429 Too Many Requests", "410 Gone", "302 302 302 410", "partial: false", "Tour complete"} {
		require.Contains(t, out.String(), want)
	}
	t.Log("\n" + out.String())
}

func TestTourOnRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var out bytes.Buffer
		require.NoError(t, Tour(ctx, &out, Config{Redis: tg.Client, Prefix: tg.Prefix}), "%s", out.String())
		require.Contains(t, out.String(), "Tour complete")
	})
}
