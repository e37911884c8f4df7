package shortener

import (
	"context"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
)

// Analytics is what the service needs from click analytics
// (*analytics.Analytics provides it; tests may give a fake): Record is
// called on every redirect and must not block it for long.
type Analytics interface {
	Start(ctx context.Context) error
	Record(ctx context.Context, c analytics.Click) error
	Stats(ctx context.Context, code string) (analytics.Stats, error)
	Rebuild(ctx context.Context) error
	Close(ctx context.Context) error
}

// Click is one redirect as analytics records it.
type Click = analytics.Click

// Stats are a link's click statistics.
type Stats = analytics.Stats

// Count is one bar of a statistic.
type Count = analytics.Count
