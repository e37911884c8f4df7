// Command cache shows cache-aside with package cache on a user-profile
// service: a slow "database" behind Aside, reads that hit, an update
// followed by an invalidation, a lookup of a user who does not exist, and a
// stampede on a cold key with and without protection, in one process and
// across a fleet of four.
//
//	go run ./examples/cache                        # in memory (the fleet part on an in-process miniredis)
//	go run ./examples/cache -redis localhost:6379  # the cache and the fleet on a Redis server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cache"
)

// logger is where the Asides log what an operator must see: a failing
// database (Error), a cache or lock worked around (Warn). A healthy run
// logs nothing.
var logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

// queryLatency is what one database query costs in this demo.
const queryLatency = 20 * time.Millisecond

// Profile is what the service caches.
type Profile struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// database is a slow store that counts its queries.
type database struct {
	mu      sync.Mutex
	users   map[string]Profile
	queries atomic.Int64
}

func newDatabase(n int) *database {
	d := &database{users: make(map[string]Profile)}
	for i := 1; i <= n; i++ {
		id := fmt.Sprint(i)
		d.users[id] = Profile{ID: id, Name: fmt.Sprintf("user %d", i), Email: fmt.Sprintf("user%d@example.com", i)}
	}
	return d
}

// LoadProfile is the Loader: one query, ErrNotFound for unknown ids.
func (d *database) LoadProfile(ctx context.Context, id string) (Profile, error) {
	d.queries.Add(1)
	select {
	case <-time.After(queryLatency):
	case <-ctx.Done():
		return Profile{}, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.users[id]
	if !ok {
		return Profile{}, fmt.Errorf("profile %s: %w", id, cache.ErrNotFound)
	}
	return p, nil
}

func (d *database) rename(id, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.users[id]
	p.Name = name
	d.users[id] = p
}

func main() {
	addr := flag.String("redis", "", "cache on the Redis server at `host:port` instead of in memory")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "cache demo:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx := context.Background()
	// Keys of this run only, so that runs against one Redis do not meet.
	prefix := fmt.Sprintf("cache-demo:%d:", time.Now().UnixNano())
	var rdb redis.UniversalClient
	if addr == "" {
		mr, err := miniredis.Run() // for the fleet part only
		if err != nil {
			return err
		}
		defer mr.Close()
		rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		fmt.Printf("Cache-aside in memory (an LRU); the fleet part on an in-process miniredis.\n")
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: addr})
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			return fmt.Errorf("cannot reach Redis at %s: %w", addr, err)
		}
		fmt.Printf("Cache-aside on Redis at %s (keys under %s, 1 minute TTLs).\n", addr, prefix)
	}
	defer rdb.Close()
	fmt.Printf("Every database query takes %s.\n\n", queryLatency)

	part := 0
	newCache := func() (cache.Cache[Profile], error) {
		if addr == "" {
			return cache.NewLRU[Profile](10_000)
		}
		part++ // a fresh, empty cache for each part
		return cache.NewRedis[Profile](rdb, cache.WithPrefix(fmt.Sprintf("%sprofiles%d:", prefix, part)))
	}
	if err := readsAndInvalidation(ctx, newCache); err != nil {
		return err
	}
	if err := stampede(ctx, newCache); err != nil {
		return err
	}
	return fleetStampede(ctx, rdb, prefix)
}

// readsAndInvalidation: reads through Aside, the write path, and a user
// who does not exist.
func readsAndInvalidation(ctx context.Context, newCache func() (cache.Cache[Profile], error)) error {
	db := newDatabase(50)
	c, err := newCache()
	if err != nil {
		return err
	}
	profiles, err := cache.NewAside(c, db.LoadProfile, cache.WithTTL(time.Minute), cache.WithLogger(logger))
	if err != nil {
		return err
	}
	defer profiles.Close()

	fmt.Println("1. Reads: 2000 profile views over 50 users, the popular ones viewed most.")
	rng := rand.New(rand.NewSource(1))
	zipf := rand.NewZipf(rng, 1.2, 1, 49)
	start := time.Now()
	for range 2000 {
		if _, err := profiles.Get(ctx, fmt.Sprint(zipf.Uint64()+1)); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	st := profiles.Stats()
	fmt.Printf("   %d database queries for 2000 reads: hit rate %.1f%%, %s in all\n",
		db.queries.Load(), 100*st.HitRate(), elapsed.Round(time.Millisecond))
	fmt.Printf("   (without the cache: %s)\n\n", (2000 * queryLatency).Round(time.Second))

	fmt.Println("2. Update user 1's name, then read it back.")
	db.rename("1", "Ada Lovelace")
	p, _ := profiles.Get(ctx, "1")
	fmt.Printf("   before Invalidate: %q  <- stale: the cache does not know about the write\n", p.Name)
	if err := profiles.Invalidate(ctx, "1"); err != nil {
		return err
	}
	p, _ = profiles.Get(ctx, "1")
	fmt.Printf("   after Invalidate:  %q\n\n", p.Name)

	fmt.Println("3. A user who does not exist, asked for 100 times.")
	before := db.queries.Load()
	for range 100 {
		if _, err := profiles.Get(ctx, "999"); !errors.Is(err, cache.ErrNotFound) {
			return fmt.Errorf("user 999: %v", err)
		}
	}
	fmt.Printf("   %d database query: the not-found answer is cached too (for 10s by default)\n\n", db.queries.Load()-before)
	return nil
}

// stampede: 1000 goroutines miss one cold key at the same moment.
func stampede(ctx context.Context, newCache func() (cache.Cache[Profile], error)) error {
	const n = 1000
	fmt.Printf("4. Stampede: %d goroutines ask for one cold key at the same moment.\n", n)

	// Hand-written cache-aside, as in most code bases: get, miss, load, set.
	db := newDatabase(50)
	c, err := newCache()
	if err != nil {
		return err
	}
	naive := func(ctx context.Context, id string) (Profile, error) {
		if p, ok, err := c.Get(ctx, id); err == nil && ok {
			return p, nil
		}
		p, err := db.LoadProfile(ctx, id)
		if err == nil {
			_ = c.Set(ctx, id, p, time.Minute)
		}
		return p, err
	}
	if err := together(n, func() error { _, err := naive(ctx, "42"); return err }); err != nil {
		return err
	}
	fmt.Printf("   get-miss-load-set by hand: %4d database queries\n", db.queries.Load())

	db = newDatabase(50)
	if c, err = newCache(); err != nil {
		return err
	}
	profiles, err := cache.NewAside(c, db.LoadProfile, cache.WithTTL(time.Minute), cache.WithLogger(logger))
	if err != nil {
		return err
	}
	defer profiles.Close()
	if err := together(n, func() error { _, err := profiles.Get(ctx, "42"); return err }); err != nil {
		return err
	}
	fmt.Printf("   cache.Aside:               %4d database query (%d callers shared it)\n\n", db.queries.Load(), profiles.Stats().Shared)
	return nil
}

// fleetStampede: four processes sharing one Redis miss one key together.
func fleetStampede(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	const processes, perProcess = 4, 250
	fmt.Printf("5. Fleet stampede: %d processes sharing one Redis, %d goroutines each, one cold key.\n", processes, perProcess)
	for _, fleetLock := range []bool{false, true} {
		db := newDatabase(50)
		runPrefix := fmt.Sprintf("%sfleet-%v:", prefix, fleetLock)
		var asides []*cache.Aside[Profile]
		for range processes {
			r, err := cache.NewRedis[Profile](rdb, cache.WithPrefix(runPrefix), cache.WithTimeout(time.Second))
			if err != nil {
				return err
			}
			// No logger here: a thousand simultaneous reads of an in-process
			// miniredis on a busy machine can outlast the bound, and the
			// Warn per read worked around would bury the demo's output
			// (Stats().CacheErrors counts them).
			opts := []cache.AsideOption{cache.WithTTL(time.Minute)}
			if fleetLock {
				// The lock's names default to the cache's prefix, in a
				// namespace of their own; its options are its own.
				opts = append(opts, cache.WithFleetLock(rdb, cache.WithTimeout(time.Second)))
			}
			a, err := cache.NewAside(r, db.LoadProfile, opts...)
			if err != nil {
				return err
			}
			defer a.Close()
			asides = append(asides, a)
		}
		var i atomic.Int64
		err := together(processes*perProcess, func() error {
			_, err := asides[int(i.Add(1))%processes].Get(ctx, "7")
			return err
		})
		if err != nil {
			return err
		}
		if fleetLock {
			fmt.Printf("   with WithFleetLock:    %d database query for the fleet\n", db.queries.Load())
		} else {
			fmt.Printf("   without a fleet lock:  %d database queries, one per process\n", db.queries.Load())
		}
	}
	return nil
}

// together runs fn in n goroutines released at the same instant.
func together(n int, fn func() error) error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- fn()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return errors.Join(func() []error {
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...)
}
