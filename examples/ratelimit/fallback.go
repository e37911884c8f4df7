package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/ratelimit"
)

// fallbackDemo limits through Redis with Fallback to a Memory limiter,
// takes Redis away mid-way and gives it back.
func fallbackDemo(addr string) error {
	var link outage
	c := redis.NewClient(&redis.Options{Addr: addr, Dialer: link.dial})
	defer c.Close()

	// A fleet of 3 instances shares 6 per minute; alone, each allows a third.
	fleet := ratelimit.Limit{Rate: 6, Period: time.Minute}
	share := ratelimit.Limit{Rate: 2, Period: time.Minute}
	primary, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, fleet,
		ratelimit.WithPrefix("ratelimit-demo:"+randomSuffix()+":"),
		ratelimit.WithTimeout(50*time.Millisecond))
	if err != nil {
		return err
	}
	secondary, err := ratelimit.NewMemory(ratelimit.TokenBucket, share)
	if err != nil {
		return err
	}
	var degraded atomic.Int64
	var firstErr atomic.Value
	const cooldown = 50 * time.Millisecond // ratelimit.DefaultCooldown otherwise; short so the demo does not wait
	l := ratelimit.Fallback(primary, secondary, ratelimit.WithCooldown(cooldown),
		ratelimit.WithObserver(func(e ratelimit.Event) {
			if e.Kind == ratelimit.EventFallback && degraded.Add(1) == 1 {
				firstErr.Store(e.Err)
			}
		}))

	fmt.Printf("5. Fallback: Redis for the fleet, a local share while Redis is down\n")
	fmt.Printf("   Redis: %d per minute for a fleet of 3 instances. Fallback: a Memory limiter\n", fleet.Rate)
	fmt.Printf("   with this instance's share, %d per minute.\n", share.Rate)
	fmt.Printf("   The demo cuts this client off from Redis for requests 3 to 5. After a failure,\n")
	fmt.Printf("   Fallback skips Redis for a cooldown (%s here), so an outage costs one timeout\n", cooldown)
	fmt.Printf("   per cooldown, not one per request; request 7 comes after the cooldown.\n\n")
	t := newTable()
	fmt.Fprintf(t, "   request\tRedis\tanswered by\tallowed\tremaining\n")
	for req := 1; req <= 7; req++ {
		link.down.Store(req >= 3 && req <= 5)
		if req == 7 {
			time.Sleep(cooldown)
		}
		before := degraded.Load()
		d, err := l.Allow(context.Background(), "client")
		if err != nil {
			return err
		}
		state, by := "up", "Redis"
		if link.down.Load() {
			state = "down"
		}
		if degraded.Load() > before {
			by = "Memory (EventFallback)"
		}
		fmt.Fprintf(t, "   %d\t%s\t%s\t%s\t%d\n", req, state, by, yesNo(d.Allowed), d.Remaining)
	}
	t.Flush()
	if err, ok := firstErr.Load().(error); ok {
		fmt.Printf("\n   The observer saw: %v\n", err)
	}
	if s, ok := l.(ratelimit.StatsReporter); ok {
		st := s.Stats()
		fmt.Printf("   Stats: %d allowed, %d denied, %d answered by the fallback.\n", st.Allowed, st.Denied, st.Fallbacks)
	}
	fmt.Printf("   Request 6 finds Redis back but still in the cooldown; request 7 probes Redis,\n")
	fmt.Printf("   which answers with the count it kept: nobody reset anything.\n\n")
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var errUnreachable = errors.New("redis unreachable (simulated outage)")

// outage takes Redis away from one client, as a network partition would,
// and gives it back, without touching the server.
type outage struct{ down atomic.Bool }

func (o *outage) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if o.down.Load() {
		return nil, errUnreachable
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &outageConn{Conn: c, o: o}, nil
}

// outageConn fails pooled connections too while the outage lasts.
type outageConn struct {
	net.Conn
	o *outage
}

func (c *outageConn) Read(b []byte) (int, error) {
	if c.o.down.Load() {
		return 0, errUnreachable
	}
	return c.Conn.Read(b)
}

func (c *outageConn) Write(b []byte) (int, error) {
	if c.o.down.Load() {
		return 0, errUnreachable
	}
	return c.Conn.Write(b)
}
