package shortener

import (
	"context"
	"time"
)

// Analytics is what the service needs from click analytics (package
// analytics provides it): Record is called on every redirect and must not
// block it for long.
type Analytics interface {
	Start(ctx context.Context) error
	Record(ctx context.Context, c Click) error
	Stats(ctx context.Context, code string) (Stats, error)
	Rebuild(ctx context.Context) error
	Close(ctx context.Context) error
}

// Click is one redirect as analytics records it.
type Click struct {
	Code                string
	At                  time.Time
	Referrer, UserAgent string
}

// Count is one bar of a statistic.
type Count struct {
	Key string
	N   int64
}

// Stats are a link's click statistics.
type Stats struct {
	Code      string
	Total     int64
	Bots      int64
	Referrers []Count
	Days      []Count
	Hours     []Count
	Lag       int64
}

// noAnalytics records nothing, for a service built without analytics.
type noAnalytics struct{}

func (noAnalytics) Start(context.Context) error         { return nil }
func (noAnalytics) Record(context.Context, Click) error { return nil }
func (noAnalytics) Stats(_ context.Context, code string) (Stats, error) {
	return Stats{Code: code}, nil
}
func (noAnalytics) Rebuild(context.Context) error { return nil }
func (noAnalytics) Close(context.Context) error   { return nil }
