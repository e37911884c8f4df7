package shortener

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/urlshortener/codes"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Defaults of Config's optional fields.
const (
	DefaultBaseURL      = "http://127.0.0.1:8080"
	DefaultPrefix       = "urlshortener:"
	DefaultCreateRate   = 30   // creates per minute per client IP
	DefaultRedirectRate = 6000 // redirects per minute per client IP
	DefaultCacheSize    = 100_000
	DefaultCacheTTL     = 10 * time.Minute
	DefaultWriteTimeout = time.Second
	DefaultMaxExpiresIn = 10 * 365 * 24 * time.Hour
	// MaxBodyBytes is the largest request body read: 8 KiB, room for a
	// 2048-byte URL and the other fields several times over.
	MaxBodyBytes = 8 << 10
	// MaxVisitsLimit is the largest max_visits accepted.
	MaxVisitsLimit = 1_000_000_000
)

// Config configures a Server. The zero value serves from memory on
// DefaultBaseURL.
type Config struct {
	// BaseURL is where the short links live: short_url is BaseURL + "/" +
	// code. Targets on its host are refused (no redirect loops).
	BaseURL string
	// OwnHosts are more hosts (host or host:port) that reach this service
	// and that targets may therefore not point at.
	OwnHosts []string
	// Redis, when set, holds every part of the state (events, link table,
	// counter, visits, cache, rate limits, clicks), so several instances
	// share it. nil: memory, for one process.
	Redis redis.UniversalClient
	// Prefix of every Redis key (default DefaultPrefix); no braces.
	Prefix string
	// APIKey, when set, is required as "Authorization: Bearer <key>" by the
	// management endpoints (DELETE /api/links/{code}).
	APIKey string
	// CreateRate is creates per minute per client IP (default
	// DefaultCreateRate); RedirectRate the same for redirects (default
	// DefaultRedirectRate).
	CreateRate, RedirectRate int
	// TrustedProxies are the CIDRs whose X-Forwarded-For names the client
	// (default: none; the client is the peer address).
	TrustedProxies []string
	// Sequential makes codes the plain counter in Base62 (enumerable: for
	// teaching). CodeKey is the key of the code bijection otherwise: at
	// least codes.MinKeyLen bytes; nil makes one (per process in memory,
	// stored once in Redis and shared with Redis).
	Sequential bool
	CodeKey    []byte
	// Permanent answers redirects 301 instead of 302; browsers then cache
	// them and clicks stop being counted.
	Permanent bool
	// CacheSize is the local resolution cache's capacity in links (default
	// DefaultCacheSize); CacheTTL how long a resolved link is kept (default
	// DefaultCacheTTL).
	CacheSize int
	CacheTTL  time.Duration
	// WriteTimeout bounds a create or delete (default DefaultWriteTimeout):
	// when the store does not answer within it, the request gets 503.
	WriteTimeout time.Duration
	// MaxExpiresIn is the longest expires_in accepted (default
	// DefaultMaxExpiresIn).
	MaxExpiresIn time.Duration
	// Analytics records clicks and answers statistics. nil: New builds the
	// analytics package's on the same store and Redis.
	Analytics Analytics
	// Clock is the time (default time.Now).
	Clock func() time.Time
	// Logger receives what an operator needs (nil: nothing is logged).
	Logger *slog.Logger
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return bad("BaseURL %q must be http(s)://host[:port] with no path", c.BaseURL)
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if err := redisx.CheckPrefix(c.Prefix); err != nil {
		return bad("Prefix: %v", err)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"CreateRate", &c.CreateRate, DefaultCreateRate}, {"RedirectRate", &c.RedirectRate, DefaultRedirectRate}, {"CacheSize", &c.CacheSize, DefaultCacheSize}} {
		switch {
		case *f.v < 0:
			return bad("%s %d is negative", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"CacheTTL", &c.CacheTTL, DefaultCacheTTL}, {"WriteTimeout", &c.WriteTimeout, DefaultWriteTimeout}, {"MaxExpiresIn", &c.MaxExpiresIn, DefaultMaxExpiresIn}} {
		switch {
		case *f.v < 0:
			return bad("%s %v is negative", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if c.Sequential && c.CodeKey != nil {
		return bad("CodeKey with Sequential: sequential codes use no key")
	}
	if c.CodeKey != nil && len(c.CodeKey) < codes.MinKeyLen {
		return bad("CodeKey of %d bytes; at least %d", len(c.CodeKey), codes.MinKeyLen)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
