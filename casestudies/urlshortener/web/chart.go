package web

import (
	"time"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
)

// Geometry of the chart, in SVG user units (the SVG scales to its box).
const (
	chartWidth  = 600
	chartHeight = 200
	chartTop    = 20 // room for the maximum's label
	chartBottom = 24 // room for the day labels
	chartLeft   = 4
	barGap      = 2
	maxBarWidth = 48 // a few days' bars stay bars, not slabs
	// minChartDays is the shortest window: a week, so that a new link's
	// first click sits among days, not alone across the whole width.
	minChartDays = 7
)

// chart is the clicks-per-day bar chart, laid out for the template: one
// bar per day from the first day with clicks (at most `days` back, at
// least minChartDays back) to today, days without clicks included, so gaps
// show.
type chart struct {
	Width, Height, Baseline int
	Bars                    []bar
	Max                     int64
	First, Last             string // labels of the first and last day
	Total                   int64
}

type bar struct {
	Day    string
	Clicks int64
	X, Y   float64
	W, H   float64
	LabelX float64
}

// newChart lays out the last `days` days ending today (UTC), starting at
// the first day with clicks when that is later.
func newChart(counts []analytics.Count, now time.Time, days int) chart {
	today := now.UTC().Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -(days - 1))
	byDay := make(map[string]int64, len(counts))
	first := today
	for _, c := range counts {
		byDay[c.Key] = c.N
		if d, err := time.Parse(analytics.DayLayout, c.Key); err == nil && d.Before(first) {
			first = d
		}
	}
	if first.After(start) {
		start = first
	}
	if weekAgo := today.AddDate(0, 0, -(minChartDays - 1)); start.After(weekAgo) {
		start = weekAgo
	}
	c := chart{Width: chartWidth, Height: chartHeight, Baseline: chartHeight - chartBottom}
	for d := start; !d.After(today); d = d.AddDate(0, 0, 1) {
		key := d.Format(analytics.DayLayout)
		n := byDay[key]
		c.Bars = append(c.Bars, bar{Day: key, Clicks: n})
		c.Max = max(c.Max, n)
		c.Total += n
	}
	c.First, c.Last = c.Bars[0].Day, c.Bars[len(c.Bars)-1].Day
	slot := float64(chartWidth-chartLeft) / float64(len(c.Bars))
	plot := float64(c.Baseline - chartTop)
	for i := range c.Bars {
		b := &c.Bars[i]
		b.W = min(max(slot-barGap, 1), maxBarWidth)
		b.X = chartLeft + float64(i)*slot + (slot-b.W)/2
		if c.Max > 0 {
			b.H = plot * float64(b.Clicks) / float64(c.Max)
		}
		b.Y = float64(c.Baseline) - b.H
		b.LabelX = b.X + b.W/2
	}
	return c
}
