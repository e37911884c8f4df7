package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cache"
)

type User struct {
	ID   string
	Name string
}

// db stands in for a database: a map and a count of the queries it served.
type db struct {
	users   map[string]User
	queries int
}

func (d *db) LoadUser(_ context.Context, id string) (User, error) {
	d.queries++
	u, ok := d.users[id]
	if !ok {
		return User{}, fmt.Errorf("user %s: %w", id, cache.ErrNotFound)
	}
	return u, nil
}

func ExampleNewAside() {
	ctx := context.Background()
	store := &db{users: map[string]User{"1": {"1", "Ada"}}}
	lru, _ := cache.NewLRU[User](10_000)
	users, err := cache.NewAside(lru, store.LoadUser, cache.WithTTL(10*time.Minute))
	if err != nil {
		panic(err)
	}
	defer users.Close()

	u, _ := users.Get(ctx, "1") // a miss: loaded from the database
	fmt.Println(u.Name)
	u, _ = users.Get(ctx, "1") // a hit
	fmt.Println(u.Name)

	// The write path: update the source of truth, then invalidate.
	store.users["1"] = User{"1", "Ada Lovelace"}
	_ = users.Invalidate(ctx, "1")
	u, _ = users.Get(ctx, "1")
	fmt.Println(u.Name)

	// A key that does not exist: ErrNotFound, cached briefly.
	_, err = users.Get(ctx, "2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))
	_, err = users.Get(ctx, "2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))

	st := users.Stats()
	fmt.Printf("queries=%d hits=%d misses=%d hit rate=%.2f\n", store.queries, st.Hits, st.Misses, st.HitRate())
	// Output:
	// Ada
	// Ada
	// Ada Lovelace
	// true
	// true
	// queries=3 hits=2 misses=3 hit rate=0.40
}

func ExampleNewLRU() {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0) // a fake clock; leave WithClock out in a service
	c, _ := cache.NewLRU[string](2, cache.WithClock(func() time.Time { return now }))

	_ = c.Set(ctx, "a", "apple", time.Minute)
	_ = c.Set(ctx, "b", "banana", 0) // no expiry
	_, _, _ = c.Get(ctx, "a")        // a is now more recent than b
	_ = c.Set(ctx, "c", "cherry", 0) // full: evicts b, the least recently used

	for _, k := range []string{"a", "b", "c"} {
		v, ok, _ := c.Get(ctx, k)
		fmt.Println(k, v, ok)
	}
	now = now.Add(time.Minute) // a expires
	_, ok, _ := c.Get(ctx, "a")
	fmt.Println("a after a minute:", ok)
	st := c.Stats()
	fmt.Printf("hits=%d misses=%d evictions=%d expirations=%d\n", st.Hits, st.Misses, st.Evictions, st.Expirations)
	// Output:
	// a apple true
	// b  false
	// c cherry true
	// a after a minute: false
	// hits=3 misses=2 evictions=1 expirations=1
}

func ExampleWithMaxCost() {
	// At most 1000 entries and 1 KiB of values.
	c, _ := cache.NewLRU[[]byte](1000,
		cache.WithMaxCost(1024, func(v []byte) int64 { return int64(len(v)) }))
	ctx := context.Background()
	_ = c.Set(ctx, "small", make([]byte, 600), 0)
	_ = c.Set(ctx, "big", make([]byte, 600), 0) // 1200 bytes: small goes
	_ = c.Set(ctx, "huge", make([]byte, 2048), 0)
	fmt.Println(c.Len(), c.Stats().Evictions, c.Stats().Rejections)
	// Output: 1 1 1
}

func ExampleNewTiered() {
	ctx := context.Background()
	mr, err := miniredis.Run() // a Redis for the example
	if err != nil {
		panic(err)
	}
	defer mr.Close()

	// Two instances of a service, each with its own local tier.
	newInstance := func() *cache.Tiered[string] {
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		local, _ := cache.NewLRU[string](1000)
		remote, _ := cache.NewRedis[string](rdb, cache.WithPrefix("greetings:"))
		t, _ := cache.NewTiered(local, remote, cache.WithLocalTTL(time.Minute))
		return t
	}
	a, b := newInstance(), newInstance()
	defer a.Close()
	defer b.Close()

	_ = a.Set(ctx, "en", "hello", time.Hour)
	v, _, _ := b.Get(ctx, "en") // from Redis, then from b's local tier
	fmt.Println(v)

	_ = a.Delete(ctx, "en") // drops b's local copy too, over pub/sub
	for i := 0; i < 100; i++ {
		if _, ok, _ := b.Get(ctx, "en"); !ok {
			fmt.Println("gone everywhere")
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Output:
	// hello
	// gone everywhere
}

func ExampleNewRedis() {
	ctx := context.Background()
	mr, err := miniredis.Run() // a Redis for the example; use your server's address
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	users, err := cache.NewRedis[User](rdb,
		cache.WithPrefix("users:"),             // default cache.DefaultPrefix
		cache.WithTimeout(50*time.Millisecond), // default cache.DefaultTimeout
	)
	if err != nil {
		panic(err)
	}
	_ = users.Set(ctx, "1", User{"1", "Ada"}, 10*time.Minute) // JSON by default
	u, ok, err := users.Get(ctx, "1")
	fmt.Println(u.Name, ok, err)
	_, ok, err = users.Get(ctx, "2")
	fmt.Println(ok, err)
	fmt.Println(mr.Keys()) // prefix, then the "{}v:" namespace, then the key
	// Output:
	// Ada true <nil>
	// false <nil>
	// [users:{}v:1]
}

// An Aside shared by a fleet: the fleet lock takes options of its own,
// and the observer and logger hear what an operator needs to know.
func ExampleWithFleetLock() {
	ctx := context.Background()
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	store := &db{users: map[string]User{"1": {"1", "Ada"}}}
	shared, _ := cache.NewRedis[User](rdb, cache.WithPrefix("users:"))
	users, err := cache.NewAside(shared, store.LoadUser,
		cache.WithTTL(10*time.Minute),
		cache.WithFleetLock(rdb, cache.WithLockWait(500*time.Millisecond)),
		cache.WithObserver(func(e cache.Event) {
			if e.Kind == cache.EventLoadError || e.Kind == cache.EventCacheError {
				fmt.Println("event:", e.Kind, e.Err)
			}
		}),
		// cache.WithLogger(slog.Default()), to log them too.
	)
	if err != nil {
		panic(err)
	}
	defer users.Close()
	u, _ := users.Get(ctx, "1")
	fmt.Println(u.Name, store.queries)
	u, _ = users.Get(ctx, "1")
	fmt.Println(u.Name, store.queries)
	// Output:
	// Ada 1
	// Ada 1
}
