package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/ratelimit"
)

// world is where the scenarios run. Scenarios speak in ticks: a tick is a
// tenth of the limit's Period, and the Period is world.period.
type world struct {
	period time.Duration
	// begin starts a scenario at the start of a window (so FixedWindow's
	// boundaries fall on whole Periods), and returns its limiter factory.
	begin func() (func(ratelimit.Algorithm, ratelimit.Limit) ratelimit.Limiter, error)
	// at moves to ticks after the scenario's start: the fake clock jumps,
	// real time is slept through.
	at func(ticks int)
}

func (w *world) tick() time.Duration { return w.period / 10 }

// fmtTicks prints ticks after a scenario's start as a time (see fmtTime).
func (w *world) fmtTicks(ticks int) string { return w.fmtTime(time.Duration(ticks) * w.tick()) }

// fmtTime prints a time since a scenario's start: seconds in memory
// (Period 1s), milliseconds on Redis (Period 100ms), where real time adds
// jitter below 0.1ms that is not worth printing.
func (w *world) fmtTime(d time.Duration) string {
	if w.period >= time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	ms := float64(d.Round(100*time.Microsecond)) / float64(time.Millisecond)
	return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
}

// fmtDur prints a limiter's duration: exact in memory, rounded like
// fmtTime on Redis.
func (w *world) fmtDur(d time.Duration) string {
	if w.period >= time.Second {
		return d.String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// fakeClock is the memory world's time: it moves only when told to, so the
// output is the same on every run and nothing waits.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// memoryWorld runs Memory limiters on a fake clock; Period 1s.
func memoryWorld() *world {
	// A whole hour since the epoch: window algorithms align to multiples
	// of Period since the epoch, so every scenario starts a fresh window.
	start := time.Unix(472_222*3600, 0)
	clk := &fakeClock{now: start}
	w := &world{period: time.Second}
	w.begin = func() (func(ratelimit.Algorithm, ratelimit.Limit) ratelimit.Limiter, error) {
		start = start.Add(time.Hour)
		clk.Set(start)
		return func(alg ratelimit.Algorithm, l ratelimit.Limit) ratelimit.Limiter {
			m, err := ratelimit.NewMemory(alg, l, ratelimit.WithClock(clk.Now))
			if err != nil {
				panic(err) // the demo's limits are constants
			}
			return m
		}, nil
	}
	w.at = func(ticks int) { clk.Set(start.Add(time.Duration(ticks) * w.tick())) }
	return w
}

// redisWorld runs Redis limiters in real time. Redis takes time from its
// own clock, which cannot be faked, so the Period shrinks to 100ms to keep
// the demo short, and scenarios really sleep between requests.
func redisWorld(c redis.UniversalClient) *world {
	w := &world{period: 100 * time.Millisecond}
	var start time.Time // local time at which the scenario began
	w.begin = func() (func(ratelimit.Algorithm, ratelimit.Limit) ratelimit.Limiter, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Wait for the server's next window boundary, as measured by TIME.
		srv, err := c.Time(ctx).Result()
		if err != nil {
			return nil, err
		}
		wait := w.period - time.Duration(srv.UnixNano())%w.period
		start = time.Now().Add(wait)
		time.Sleep(wait)
		prefix := "ratelimit-demo:" + randomSuffix() + ":"
		return func(alg ratelimit.Algorithm, l ratelimit.Limit) ratelimit.Limiter {
			r, err := ratelimit.NewRedis(c, alg, l, ratelimit.WithPrefix(prefix))
			if err != nil {
				panic(err) // the demo's limits are constants
			}
			return r
		}, nil
	}
	w.at = func(ticks int) { time.Sleep(time.Until(start.Add(time.Duration(ticks) * w.tick()))) }
	return w
}

// randomSuffix keeps each run's keys apart on a shared Redis; they expire
// by themselves.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
