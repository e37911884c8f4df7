package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sysdesign/patterns/casestudies/notification/notify"
	"github.com/sysdesign/patterns/casestudies/notification/senders"
)

// The tour's timings: short enough to finish in a few seconds, long enough
// to see each mechanism at work.
const (
	tourRetryBase      = 100 * time.Millisecond
	tourBreakerTimeout = 800 * time.Millisecond
	tourProviderDelay  = 60 * time.Millisecond
	tourScheduleAhead  = 1200 * time.Millisecond
	tourStepTimeout    = 15 * time.Second
)

// tour is the -demo scenario: a service on a loopback port, driven over
// real HTTP like any client would, printing what happened step by step.
type tour struct {
	out    io.Writer
	start  time.Time
	base   string
	client *http.Client
	cons   map[string]*senders.Console

	mu     sync.Mutex
	events []notify.Event
	notes  []note // what the tour itself did, for the timeline
	labels map[string]string
}

// note is a line of the timeline that is not the service's.
type note struct {
	at   time.Time
	text string
}

// say adds a line of the tour's own to the timeline.
func (t *tour) say(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, note{at: time.Now(), text: text})
}

// runTour runs the scenario; an error means the service did not behave as
// the tour says it does.
func runTour(ctx context.Context, out io.Writer) error {
	t := &tour{out: out, start: time.Now(), client: &http.Client{Timeout: 10 * time.Second},
		cons: map[string]*senders.Console{}, labels: map[string]string{}}
	ss := map[string]senders.Sender{}
	for _, ch := range []string{"email", "sms", "push"} {
		t.cons[ch] = senders.NewConsole(ch, nil)
		ss[ch] = t.cons[ch]
	}
	t.cons["push"].SetLatency(tourProviderDelay)
	svc, err := notify.New(notify.Config{
		Senders:          ss,
		Workers:          1, // one at a time, so the queue's order is the delivery order
		RetryBase:        tourRetryBase,
		RetryMax:         2 * time.Second,
		ExactRetryDelays: true,
		BreakerThreshold: 3,
		BreakerTimeout:   tourBreakerTimeout,
		ProbeWait:        50 * time.Millisecond,
		PollInterval:     50 * time.Millisecond,
		Observer:         t.observe,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := svc.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = svc.Shutdown(sctx)
	}()
	t.base = "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Notification service tour: API on %s, in memory, console providers.\n", t.base)
	fmt.Fprintf(out, "Times are since the start; each line is a status change the service recorded.\n")

	for _, step := range []func(context.Context) error{t.optOut, t.priority, t.flakyProvider, t.scheduling} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	st := svc.Stats()
	fmt.Fprintf(out, "\nDone in %.1fs: %d accepted, %d sent, %d retried, %d deferred, %d skipped, %d cancelled, %d failed.\n",
		time.Since(t.start).Seconds(), st.Accepted, st.Sent, st.Retried, st.Deferred, st.Skipped, st.Cancelled, st.Failed)
	return nil
}

// observe is the service's observer: it keeps the events for printing.
func (t *tour) observe(e notify.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
}

// heading starts a step.
func (t *tour) heading(title, explain string) {
	fmt.Fprintf(t.out, "\n== %s\n   %s\n", title, explain)
}

// flush prints the events and notes recorded since the last flush, in
// time order.
func (t *tour) flush() {
	t.mu.Lock()
	evs, notes := t.events, t.notes
	t.events, t.notes = nil, nil
	labels := t.labels
	t.mu.Unlock()
	lines := make([]note, 0, len(evs)+len(notes))
	lines = append(lines, notes...)
	for _, e := range evs {
		switch e.Kind {
		case notify.EventCircuit:
			lines = append(lines, note{e.At, fmt.Sprintf("%-12s %-5s circuit %s", "[breaker]", e.Channel, e.Status)})
		case notify.EventStatus:
			lines = append(lines, note{e.At, fmt.Sprintf("%-12s %-5s %s", labelOf(labels, e.NotificationID), e.Channel, describe(e))})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	for _, l := range lines {
		fmt.Fprintf(t.out, "  %+7.3fs  %s\n", l.at.Sub(t.start).Seconds(), l.text)
	}
}

func labelOf(labels map[string]string, id string) string {
	if l, ok := labels[id]; ok {
		return l
	}
	return id
}

// describe says what a status event means, for a reader new to it.
func describe(e notify.Event) string {
	in := func(at time.Time) string { return at.Sub(e.At).Round(time.Millisecond).String() }
	switch e.Status {
	case notify.Scheduled:
		return "scheduled, due in " + in(e.NextAt)
	case notify.Sending:
		return fmt.Sprintf("sending (attempt %d)", e.Attempt)
	case notify.Sent:
		return fmt.Sprintf("SENT on attempt %d", e.Attempt)
	case notify.Retrying:
		return fmt.Sprintf("attempt %d failed (%v); retry in %s", e.Attempt, e.Err, in(e.NextAt))
	case notify.Deferred:
		return fmt.Sprintf("deferred for %s, no attempt used: %s", in(e.NextAt), e.Reason)
	case notify.Failed, notify.Skipped:
		return string(e.Status) + ": " + e.Reason
	}
	return string(e.Status)
}

// post creates a notification and names it in the timeline.
func (t *tour) post(ctx context.Context, label string, body map[string]any) (string, error) {
	var res struct{ ID string }
	code, err := t.call(ctx, http.MethodPost, "/api/notifications", body, &res)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("POST %s: %d", label, code)
	}
	t.mu.Lock()
	t.labels[res.ID] = label
	t.mu.Unlock()
	return res.ID, nil
}

// call does one request with a JSON body and decodes the JSON answer.
func (t *tour) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, r)
	if err != nil {
		return 0, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// settle waits until every channel of every id is final, and returns the
// views.
func (t *tour) settle(ctx context.Context, ids ...string) (map[string]notify.View, error) {
	deadline := time.Now().Add(tourStepTimeout)
	views := map[string]notify.View{}
	for _, id := range ids {
		for {
			var v notify.View
			code, err := t.call(ctx, http.MethodGet, "/api/notifications/"+id, nil, &v)
			if err != nil {
				return nil, err
			}
			if code == http.StatusOK && allFinal(v) {
				views[id] = v
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s did not finish in %v", id, tourStepTimeout)
			}
			if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	return views, nil
}

func allFinal(v notify.View) bool {
	for _, cv := range v.Channels {
		if !cv.Status.Final() {
			return false
		}
	}
	return len(v.Channels) > 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// optOut: a channel the user opted out of is skipped right before dispatch.
func (t *tour) optOut(ctx context.Context) error {
	t.heading("1. Opt-out", "bob opts out of sms (PUT /api/users/bob/preferences), then gets a notification on email and sms.")
	if code, err := t.call(ctx, http.MethodPut, "/api/users/bob/preferences", map[string]any{"opt_out": []string{"sms"}}, nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("PUT preferences: %d %v", code, err)
	}
	id, err := t.post(ctx, "bob", map[string]any{"user_id": "bob", "channels": []string{"email", "sms"}, "subject": "Welcome", "body": "Hi Bob"})
	if err != nil {
		return err
	}
	views, err := t.settle(ctx, id)
	if err != nil {
		return err
	}
	t.flush()
	if v := views[id]; v.Channels["email"].Status != notify.Sent || v.Channels["sms"].Status != notify.Skipped {
		return fmt.Errorf("opt-out: email %s, sms %s", v.Channels["email"].Status, v.Channels["sms"].Status)
	}
	return nil
}

// priority: a critical notification posted after a burst of normal ones
// overtakes them in the queue.
func (t *tour) priority(ctx context.Context) error {
	t.heading("2. Priority", fmt.Sprintf("6 normal pushes, then 1 critical, posted back to back; one worker, a provider taking %v each.", tourProviderDelay))
	var ids []string
	for i := 1; i <= 6; i++ {
		id, err := t.post(ctx, fmt.Sprintf("normal-%d", i), map[string]any{"user_id": fmt.Sprintf("user%d", i), "channels": []string{"push"}, "body": "news"})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	critical, err := t.post(ctx, "CRITICAL", map[string]any{"user_id": "ops", "channels": []string{"push"}, "priority": "critical", "subject": "Server down", "body": "now"})
	if err != nil {
		return err
	}
	if _, err := t.settle(ctx, append(ids, critical)...); err != nil {
		return err
	}
	order, overtaken := t.sentOrder(critical)
	t.flush()
	pos := slices.Index(order, critical)
	fmt.Fprintf(t.out, "   CRITICAL was posted 7th and delivered %s: only deliveries already in flight went before it.\n", ordinal(pos+1))
	// With one worker, at most the delivery that worker had already taken
	// may start between the critical one's arrival and its sending.
	if pos < 0 || overtaken > 1 {
		return fmt.Errorf("priority: critical delivered %s of %d; %d normals started after it arrived", ordinal(pos+1), len(order), overtaken)
	}
	return nil
}

// sentOrder lists the notifications sent since the last flush, in order,
// and counts the deliveries that started after critical was accepted and
// before it started.
func (t *tour) sentOrder(critical string) (order []string, overtaken int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var arrived, started time.Time
	for _, e := range t.events {
		if e.NotificationID == critical && e.Status == notify.Queued {
			arrived = e.At
		}
		if e.NotificationID == critical && e.Status == notify.Sending {
			started = e.At
		}
	}
	for _, e := range t.events {
		if e.Kind != notify.EventStatus {
			continue
		}
		if e.Status == notify.Sent {
			order = append(order, e.NotificationID)
		}
		if e.Status == notify.Sending && e.NotificationID != critical && e.At.After(arrived) && e.At.Before(started) {
			overtaken++
		}
	}
	return order, overtaken
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return fmt.Sprintf("%dth", n)
}

// flakyProvider: transient failures back off exponentially; the breaker
// opens, deliveries wait for the provider instead of burning attempts, and
// one probe closes it once the provider is back.
func (t *tour) flakyProvider(ctx context.Context) error {
	t.heading("3. A flaky provider", fmt.Sprintf("the sms provider is down. Retries back off %v, %v, %v…; after 3 failures its circuit opens for %v and\n   deliveries wait for it without using attempts; the provider comes back and a probe closes the circuit.",
		tourRetryBase, 2*tourRetryBase, 4*tourRetryBase, tourBreakerTimeout))
	sms := t.cons["sms"]
	sms.SetDown(true)
	t.say("(the sms provider goes down)")
	first, err := t.post(ctx, "carol", map[string]any{"user_id": "carol", "channels": []string{"sms"}, "body": "code 1234"})
	if err != nil {
		return err
	}
	if err := t.await(ctx, func(e notify.Event) bool { return e.Kind == notify.EventCircuit && e.Status == "open" }); err != nil {
		return fmt.Errorf("circuit never opened: %w", err)
	}
	second, err := t.post(ctx, "dave", map[string]any{"user_id": "dave", "channels": []string{"sms"}, "body": "code 5678"})
	if err != nil {
		return err
	}
	if err := t.await(ctx, func(e notify.Event) bool { return e.NotificationID == second && e.Status == notify.Deferred }); err != nil {
		return err
	}
	sms.SetDown(false)
	t.say("(the sms provider is back up)")
	views, err := t.settle(ctx, first, second)
	if err != nil {
		return err
	}
	if err := t.await(ctx, func(e notify.Event) bool { return e.Kind == notify.EventCircuit && e.Status == "closed" }); err != nil {
		return fmt.Errorf("circuit never closed: %w", err)
	}
	t.flush()
	a, b := views[first].Channels["sms"], views[second].Channels["sms"]
	if a.Status != notify.Sent || b.Status != notify.Sent || b.Attempts != 1 {
		return fmt.Errorf("flaky provider: carol %s after %d, dave %s after %d", a.Status, a.Attempts, b.Status, b.Attempts)
	}
	fmt.Fprintf(t.out, "   carol's took %d attempts; dave's waited for the provider and needed 1.\n", a.Attempts)
	return nil
}

// await waits for an event matching ok among those not yet flushed.
func (t *tour) await(ctx context.Context, ok func(notify.Event) bool) error {
	deadline := time.Now().Add(tourStepTimeout)
	for {
		t.mu.Lock()
		found := slices.ContainsFunc(t.events, ok)
		t.mu.Unlock()
		if found {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// scheduling: send_at is honoured, and DELETE cancels what has not started.
func (t *tour) scheduling(ctx context.Context) error {
	t.heading("4. Scheduled and cancelled", fmt.Sprintf("two emails scheduled %v ahead; the second is cancelled (DELETE) right away.", tourScheduleAhead))
	at := time.Now().Add(tourScheduleAhead)
	body := func(user string) map[string]any {
		return map[string]any{"user_id": user, "channels": []string{"email"}, "body": "reminder", "send_at": at.UTC().Format(time.RFC3339Nano)}
	}
	kept, err := t.post(ctx, "scheduled", body("erin"))
	if err != nil {
		return err
	}
	dropped, err := t.post(ctx, "cancelled", body("frank"))
	if err != nil {
		return err
	}
	t.say("DELETE /api/notifications/<cancelled>")
	var res struct{ Cancelled []string }
	if code, err := t.call(ctx, http.MethodDelete, "/api/notifications/"+dropped, nil, &res); err != nil || code != http.StatusOK || len(res.Cancelled) != 1 {
		return fmt.Errorf("DELETE: %d %v %v", code, res.Cancelled, err)
	}
	views, err := t.settle(ctx, kept, dropped)
	if err != nil {
		return err
	}
	t.flush()
	h := views[kept].Channels["email"].History
	sentAt := h[len(h)-1].At
	if views[kept].Channels["email"].Status != notify.Sent || sentAt.Before(at) {
		return fmt.Errorf("scheduled: %s at %v, due %v", views[kept].Channels["email"].Status, sentAt, at)
	}
	if views[dropped].Channels["email"].Status != notify.Cancelled {
		return fmt.Errorf("cancelled one is %s", views[dropped].Channels["email"].Status)
	}
	fmt.Fprintf(t.out, "   the scheduled one went %v after its send_at; the cancelled one never reached the provider.\n",
		sentAt.Sub(at).Round(time.Millisecond))
	return nil
}
