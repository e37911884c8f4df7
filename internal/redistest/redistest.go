// Package redistest hands tests a Redis to run against, so that every Redis
// suite is written once and runs on miniredis (always), on a real
// redis-server (when PATTERNS_REDIS_ADDR is set) and on a Redis Cluster (when
// PATTERNS_REDIS_CLUSTER lists its nodes, comma-separated).
//
// Each test gets a key prefix of its own (Target.Prefix) and its keys are
// deleted when it ends, so tests can share one real server. Clients are built
// with a fault-injecting dialer: Cut, Hang and Heal simulate a Redis that is
// down or unresponsive without touching the server other tests use.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Environment variables that select the real targets.
const (
	EnvAddr    = "PATTERNS_REDIS_ADDR"
	EnvCluster = "PATTERNS_REDIS_CLUSTER"
)

// Kind names a target.
type Kind string

// The kinds of target.
const (
	Mini    Kind = "miniredis"
	Real    Kind = "redis"
	Cluster Kind = "cluster"
)

// Target is one Redis a test runs against.
type Target struct {
	Kind Kind
	// Client talks to the target through Faults.
	Client redis.UniversalClient
	// Faults breaks and heals Client's connections.
	*Faults
	// Prefix is unique to the test: put it in front of every key.
	Prefix string
	// Mini is the server when Kind is Mini (to control its clock), else nil.
	Mini *miniredis.Miniredis

	t       testing.TB
	miniNow time.Time
}

// Kinds lists the targets configured in this environment, miniredis first.
func Kinds() []Kind {
	kinds := []Kind{Mini}
	if os.Getenv(EnvAddr) != "" {
		kinds = append(kinds, Real)
	}
	if os.Getenv(EnvCluster) != "" {
		kinds = append(kinds, Cluster)
	}
	return kinds
}

// Each runs fn as a subtest once for every configured target.
func Each(t *testing.T, fn func(t *testing.T, tg *Target)) {
	t.Helper()
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			fn(t, New(t, k))
		})
	}
}

// New returns a target of kind k for t, cleaned up when t ends. It fails the
// test when k is not configured.
func New(t testing.TB, k Kind) *Target {
	t.Helper()
	tg := &Target{Kind: k, Prefix: prefixFor(t), t: t}
	switch k {
	case Mini:
		tg.Mini = miniredis.RunT(t)
		// A fixed clock that moves only by Advance, with TTLs following it.
		tg.miniNow = time.Now().Truncate(time.Second)
		tg.Mini.SetTime(tg.miniNow)
		tg.Mini.ClockTTL(true)
	case Real:
		if os.Getenv(EnvAddr) == "" {
			t.Fatalf("redistest: %s is not set", EnvAddr)
		}
	case Cluster:
		if os.Getenv(EnvCluster) == "" {
			t.Fatalf("redistest: %s is not set", EnvCluster)
		}
	default:
		t.Fatalf("redistest: unknown kind %q", k)
	}
	tg.Client, tg.Faults = tg.NewClient()
	if k != Mini {
		t.Cleanup(tg.deleteKeys)
	}
	return tg
}

// ClientOption adjusts a client NewClient builds.
type ClientOption func(*clientConfig)

type clientConfig struct{ contextTimeouts bool }

// WithContextTimeouts builds the client with ContextTimeoutEnabled, so
// go-redis applies ctx deadlines to socket I/O (its default ignores them).
func WithContextTimeouts() ClientOption {
	return func(c *clientConfig) { c.contextTimeouts = true }
}

// The clients redistest hands out never send a call again (MaxRetries
// -1). go-redis's default sends a call again after a read timeout or a
// network error (three times more): a reply that comes late on a loaded
// machine would then run a script that is not idempotent (a rate-limit
// decision, an append) twice or more, and a pipeline's every call with
// it. A test client must show what a call did once; whether a package
// copes with a client that retries is for that package's own tests (a
// hook that runs each script twice).
const (
	// targetReadTimeout is a Target client's read timeout: go-redis's
	// default, so that a reply slowed by a loaded CI machine under -race
	// (over 1s at times) still arrives; a hung connection holds a call
	// (abandoned by its bound) that long.
	targetReadTimeout = 3 * time.Second
	// serverReadTimeout is a private Server's clients' read timeout:
	// short, so that a call that ignores its bound on a frozen server is
	// obvious in a fault suite, and ends soon.
	serverReadTimeout = time.Second
	// dialTimeout and writeTimeout are every client's.
	dialTimeout, writeTimeout = time.Second, time.Second
)

// NewClient returns another client of the same target with faults of its
// own: a second "process" that can lose Redis while the first keeps it. It
// is closed when the test ends. Clients use 1s dial and write timeouts, a
// 3s read timeout, and never send a call again (MaxRetries -1).
func (tg *Target) NewClient(opts ...ClientOption) (redis.UniversalClient, *Faults) {
	var cfg clientConfig
	for _, o := range opts {
		o(&cfg)
	}
	f := newFaults()
	var c redis.UniversalClient
	switch tg.Kind {
	case Mini, Real:
		addr := os.Getenv(EnvAddr)
		if tg.Mini != nil {
			addr = tg.Mini.Addr()
		}
		c = redis.NewClient(&redis.Options{Addr: addr, Dialer: f.dial, ContextTimeoutEnabled: cfg.contextTimeouts,
			MaxRetries: -1, DialTimeout: dialTimeout, ReadTimeout: targetReadTimeout, WriteTimeout: writeTimeout})
	case Cluster:
		// A cluster client sends a command again after a timeout or a
		// network error as often as it follows MOVED (MaxRedirects, 3),
		// whatever MaxRetries says, and it must follow MOVED (go-redis
		// sends some commands, XINFO among them, to any node). So on the
		// Cluster a call can still run more than once; MaxRetries -1 stops
		// its node clients from adding to that.
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: ClusterAddrs(), Dialer: f.dial, ContextTimeoutEnabled: cfg.contextTimeouts,
			MaxRetries: -1, DialTimeout: dialTimeout, ReadTimeout: targetReadTimeout, WriteTimeout: writeTimeout})
	}
	tg.t.Cleanup(func() { _ = c.Close() })
	warm(c)
	return c, f
}

// warm makes a new client's first connections, and a cluster client's slot
// map and command table (COMMAND, a large reply), before the test times
// anything: a test's first call with a 50ms bound must measure the code
// under test, not a cold client on a loaded machine.
func warm(c redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cc, ok := c.(*redis.ClusterClient); ok {
		_ = cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
	}
	_ = c.Ping(ctx).Err()
}

// ClusterAddrs lists the cluster nodes of PATTERNS_REDIS_CLUSTER.
func ClusterAddrs() []string {
	var addrs []string
	for _, a := range strings.Split(os.Getenv(EnvCluster), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Key returns the test's prefix followed by name.
func (tg *Target) Key(name string) string { return tg.Prefix + name }

// Advance moves miniredis's clock (TIME and key expiry alike) forward by d.
// A real server's clock cannot be moved, so on one it fails the test: suites
// that need a controlled clock there inject it into the code under test.
func (tg *Target) Advance(d time.Duration) {
	tg.t.Helper()
	if tg.Mini == nil {
		tg.t.Fatalf("redistest: Advance needs miniredis, target is %s", tg.Kind)
	}
	tg.miniNow = tg.miniNow.Add(d)
	tg.Mini.SetTime(tg.miniNow)
}

// Now returns miniredis's clock, or the wall clock on a real server.
func (tg *Target) Now() time.Time {
	if tg.Mini == nil {
		return time.Now()
	}
	return tg.miniNow
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_/.-]+`)

// prefixFor is unique per test and free of braces, so packages can wrap
// their own part of a key in a hash tag.
func prefixFor(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return "pt:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// deleteKeys removes every key under the test's prefix on every master.
func (tg *Target) deleteKeys() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := tg.newCleanupClient()
	defer c.Close()
	del := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, tg.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			node.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, del)
	} else {
		err = del(ctx, c.(*redis.Client))
	}
	if err != nil {
		tg.t.Logf("redistest: deleting keys under %s: %v", tg.Prefix, err)
	}
}

// newCleanupClient is a fault-free client, so cleanup works after a test
// left its own client cut.
func (tg *Target) newCleanupClient() redis.UniversalClient {
	if tg.Kind == Cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: ClusterAddrs()})
	}
	return redis.NewClient(&redis.Options{Addr: os.Getenv(EnvAddr)})
}

// ClientKinds are the two ways a service builds its go-redis client, by
// name: go-redis's default, which ignores ctx deadlines for socket I/O,
// and one built with ContextTimeoutEnabled. Every bound must hold on both.
func ClientKinds() map[string][]ClientOption {
	return map[string][]ClientOption{
		"default client":        nil,
		"ContextTimeoutEnabled": {WithContextTimeouts()},
	}
}
