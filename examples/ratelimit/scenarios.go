package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
)

var algorithms = []ratelimit.Algorithm{
	ratelimit.TokenBucket, ratelimit.LeakyBucket, ratelimit.FixedWindow,
	ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter,
}

func newTable() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0) }

// allow is Allow for the demo: its limiters fail only if Redis does, and
// then the demo has nothing left to show.
func allow(l ratelimit.Limiter) ratelimit.Decision {
	d, err := l.Allow(context.Background(), "client")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit demo:", err)
		os.Exit(1)
	}
	return d
}

// sameTraffic sends one request per tick, twice the limit, through all five
// algorithms, starting mid-window, and draws who was allowed when.
func sameTraffic(w *world) error {
	newLimiter, err := w.begin()
	if err != nil {
		return err
	}
	const first, count = 5, 30 // ticks 5..34: from mid-window, for three Periods
	limit := ratelimit.Limit{Rate: 5, Period: w.period}
	fmt.Printf("1. The same traffic through each algorithm\n")
	fmt.Printf("   Limit %s (buckets: burst 5). One request every %s from %s on: %d requests,\n",
		limit, w.tick(), w.fmtTicks(first), count)
	fmt.Printf("   twice the limit. # allowed, . denied; | marks where a new window starts.\n\n")

	limiters := make([]ratelimit.Limiter, len(algorithms))
	rows := make([][]byte, len(algorithms))
	for i, alg := range algorithms {
		limiters[i] = newLimiter(alg, limit)
	}
	for tick := first; tick < first+count; tick++ {
		w.at(tick)
		for i, l := range limiters {
			mark := byte('.')
			if allow(l).Allowed {
				mark = '#'
			}
			rows[i] = append(rows[i], mark)
		}
	}

	ruler := []byte(strings.Repeat(" ", count))
	labels := []byte(strings.Repeat(" ", count+8))
	for tick := first; tick < first+count; tick++ {
		if tick%10 == 0 {
			ruler[tick-first] = '|'
			copy(labels[tick-first:], w.fmtTicks(tick))
		}
	}
	t := newTable()
	fmt.Fprintf(t, "   \t%s\n", strings.TrimRight(string(labels), " "))
	fmt.Fprintf(t, "   \t%s\n", strings.TrimRight(string(ruler), " "))
	for i, alg := range algorithms {
		fmt.Fprintf(t, "   %s\t%s\tallowed %d of %d\n", alg, rows[i], strings.Count(string(rows[i]), "#"), count)
	}
	t.Flush()
	fmt.Printf("\n   fixed-window lets 5 through just before a boundary and 5 just after it;\n")
	fmt.Printf("   the sliding windows never allow more than 5 in any %s; the token bucket\n", w.period)
	fmt.Printf("   spends its burst, then allows one every %s; the leaky bucket admits as\n", w.period/5)
	fmt.Printf("   many, into a queue it drains evenly (see 3).\n\n")
	return nil
}

// boundarySpike shows FixedWindow admitting twice its Rate across a window
// boundary, where the sliding windows refuse.
func boundarySpike(w *world) error {
	newLimiter, err := w.begin()
	if err != nil {
		return err
	}
	limit := ratelimit.Limit{Rate: 10, Period: w.period}
	fmt.Printf("2. The fixed window's boundary spike\n")
	fmt.Printf("   Limit %s. 10 requests at %s, 10 more at %s, where a new window starts.\n\n",
		limit, w.fmtTicks(9), w.fmtTicks(10))
	t := newTable()
	fmt.Fprintf(t, "   algorithm\tat %s\tat %s\tallowed within %s\tbecause\n", w.fmtTicks(9), w.fmtTicks(10), w.tick())
	limiters := make([]ratelimit.Limiter, len(algorithms))
	for i, alg := range algorithms {
		limiters[i] = newLimiter(alg, limit)
	}
	var counts [2][]int
	for k, tick := range []int{9, 10} {
		w.at(tick)
		counts[k] = make([]int, len(limiters))
		for i, l := range limiters {
			for range 10 {
				if allow(l).Allowed {
					counts[k][i]++
				}
			}
		}
	}
	for i, alg := range algorithms {
		total := counts[0][i] + counts[1][i]
		var note string
		switch alg {
		case ratelimit.FixedWindow:
			note = fmt.Sprintf("<- %d in %s: twice the limit", total, w.tick())
		case ratelimit.TokenBucket, ratelimit.LeakyBucket:
			note = fmt.Sprintf("(its burst of %d, plus %d refilled in %s)", limit.Rate, total-limit.Rate, w.tick())
		default:
			note = fmt.Sprintf("(never more than %d in any %s)", limit.Rate, w.period)
		}
		fmt.Fprintf(t, "   %s\t%d/10\t%d/10\t%d\t%s\n", alg, counts[0][i], counts[1][i], total, note)
	}
	t.Flush()
	fmt.Println()
	return nil
}

// leakySpacing shows LeakyBucket's Delay: a burst is admitted into a queue
// and leaves it evenly spaced.
func leakySpacing(w *world) error {
	newLimiter, err := w.begin()
	if err != nil {
		return err
	}
	limit := ratelimit.Limit{Rate: 5, Period: w.period, Burst: 5}
	fmt.Printf("3. The leaky bucket spaces requests out\n")
	fmt.Printf("   Limit %s. 7 requests arrive at once at %s, one more at %s.\n", limit, w.fmtTicks(0), w.fmtTicks(3))
	fmt.Printf("   Each admitted request waits its Delay, so they proceed %s apart.\n\n", w.period/5)
	l := newLimiter(ratelimit.LeakyBucket, limit)
	t := newTable()
	fmt.Fprintf(t, "   request\tarrives\tdecision\tDelay\tproceeds at\n")
	req := 0
	for _, batch := range []struct{ tick, n int }{{0, 7}, {3, 1}} {
		w.at(batch.tick)
		for range batch.n {
			req++
			d := allow(l)
			arrives := time.Duration(batch.tick) * w.tick()
			if !d.Allowed {
				fmt.Fprintf(t, "   %d\t%s\tdenied\t\t(queue full: retry in %s)\n", req, w.fmtTicks(batch.tick), w.fmtDur(d.RetryAfter))
				continue
			}
			fmt.Fprintf(t, "   %d\t%s\tallowed\t%s\t%s\n", req, w.fmtTicks(batch.tick), w.fmtDur(d.Delay), w.fmtTime(arrives+d.Delay))
		}
	}
	t.Flush()
	fmt.Println()
	return nil
}

// tokenBurst shows TokenBucket's burst followed by its steady rate.
func tokenBurst(w *world) error {
	newLimiter, err := w.begin()
	if err != nil {
		return err
	}
	limit := ratelimit.Limit{Rate: 2, Period: w.period, Burst: 6}
	fmt.Printf("4. The token bucket: a burst, then the steady rate\n")
	fmt.Printf("   Limit %s. One request every %s for 4 Periods.\n\n", limit, w.tick())
	l := newLimiter(ratelimit.TokenBucket, limit)
	t := newTable()
	fmt.Fprintf(t, "   from\tsent\tallowed\trequests (# allowed, . denied)\n")
	for p := 0; p < 4; p++ {
		var row []byte
		for tick := p * 10; tick < (p+1)*10; tick++ {
			w.at(tick)
			mark := byte('.')
			if allow(l).Allowed {
				mark = '#'
			}
			row = append(row, mark)
		}
		fmt.Fprintf(t, "   %s\t%d\t%d\t%s\n", w.fmtTicks(p*10), len(row), strings.Count(string(row), "#"), row)
	}
	t.Flush()
	fmt.Printf("\n   The full bucket (6) and what refills meanwhile pass at once; then %d per %s.\n\n", limit.Rate, w.period)
	return nil
}
