package benchmarks

// Set-up shared by the case-study benchmarks, which serve over real HTTP on
// loopback and keep what they write in one Redis key prefix per run.

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// keepAliveClient keeps up to conns connections open to one host, never
// follows a redirect (a 302 is the answer being measured) and gives up on
// a request after 10 s.
func keepAliveClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
}

// quantileMicros returns the q-quantile of lat in microseconds (0 for
// none), sorting lat in place.
func quantileMicros(lat []time.Duration, q float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e3
}

// deleteRunKeys removes the keys under prefix that a run wrote, on every
// master of a Cluster; a failure is logged, not fatal, since the numbers
// are already taken.
func deleteRunKeys(b interface{ Logf(string, ...any) }, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, n *redis.Client) error {
		// One pipeline per SCAN page: a round trip per key would cost the
		// server more than the run it cleans up after (its CPU is measured).
		var cursor uint64
		for {
			keys, next, err := n.Scan(ctx, cursor, prefix+"*", 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if _, err := n.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, k := range keys {
						p.Unlink(ctx, k)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	}
	if err != nil {
		b.Logf("deleting the run's keys: %v", err)
	}
}
