package notify

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/sysdesign/patterns/queue"
)

// handleCreate is POST /api/notifications: 202 {"id"} once every channel's
// delivery is queued; a repeated idempotency key answers the first id.
func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req notificationRequest
	if fe := decodeJSON(w, r, &req); fe != nil {
		writeFieldError(w, fe)
		return
	}
	if h := r.Header.Get("Idempotency-Key"); h != "" {
		if req.IdempotencyKey != "" && req.IdempotencyKey != h {
			writeFieldError(w, badField("idempotency_key", "differs from the Idempotency-Key header"))
			return
		}
		req.IdempotencyKey = h
	}
	n, fe := req.notification()
	if fe != nil {
		writeFieldError(w, fe)
		return
	}
	a, fe := n.validate(s.channels, DefaultMaxBody, s.cfg.Clock())
	if fe != nil {
		writeFieldError(w, fe)
		return
	}
	ctx, cancel := deadline(r.Context())
	defer cancel()
	rec, err := s.submit(ctx, a)
	switch {
	case errors.Is(err, ErrKeyPending):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusConflict, badField("idempotency_key", "a request with this key is still being accepted; retry"))
	case err != nil:
		s.writeUnavailable(w, r, err)
	case rec.Duplicate:
		writeJSON(w, http.StatusAccepted, map[string]any{"id": rec.ID, "duplicate": true})
	default:
		w.Header().Set("Location", "/api/notifications/"+rec.ID)
		writeJSON(w, http.StatusAccepted, map[string]any{"id": rec.ID})
	}
}

// view reads a notification's projection, folded from its history as it
// is now (read-your-writes). ok is false for an unknown id.
func (s *Service) view(ctx context.Context, id string) (View, bool, error) {
	if !idPattern.MatchString(id) {
		return View{}, false, nil
	}
	v, version, err := s.views.Load(ctx, id)
	return v, version > 0 && v.Channels != nil, err
}

// handleGet is GET /api/notifications/{id}.
func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := deadline(r.Context())
	defer cancel()
	v, ok, err := s.view(ctx, r.PathValue("id"))
	switch {
	case err != nil:
		s.writeUnavailable(w, r, err)
	case !ok:
		writeJSON(w, http.StatusNotFound, &fieldError{Field: "id", Message: "no such notification"})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// cancelResult is the answer of DELETE /api/notifications/{id}.
type cancelResult struct {
	ID        string   `json:"id"`
	Cancelled []string `json:"cancelled"`
	// NotCancelled maps the other channels to why: their status, or
	// "started" for one a worker holds right now.
	NotCancelled map[string]string `json:"not_cancelled"`
}

// handleCancel is DELETE /api/notifications/{id}: cancels each channel
// whose delivery has not started (queued, scheduled, deferred or waiting
// to retry); those being sent or finished are left alone.
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := deadline(r.Context())
	defer cancel()
	id := r.PathValue("id")
	v, ok, err := s.view(ctx, id)
	if err != nil {
		s.writeUnavailable(w, r, err)
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, &fieldError{Field: "id", Message: "no such notification"})
		return
	}
	res := cancelResult{ID: id, Cancelled: []string{}, NotCancelled: map[string]string{}}
	channels := make([]string, 0, len(v.Channels))
	for ch := range v.Channels {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	for _, ch := range channels {
		st := v.Channels[ch].Status
		if !st.cancellable() {
			res.NotCancelled[ch] = string(st)
			continue
		}
		// The queue decides: a job a worker dequeued since the view was
		// read is leased, and Cancel refuses it.
		err := s.queue.Cancel(ctx, jobID(id, ch))
		switch {
		case err == nil:
			t := task{NotificationID: id, UserID: v.UserID, Channel: ch, Priority: v.Priority}
			if err := s.record(ctx, t, change{status: Cancelled, attempt: v.Channels[ch].Attempts}); err != nil {
				s.log.Warn("notify: cancelled but not recorded", "id", id, "channel", ch, "err", err)
			}
			res.Cancelled = append(res.Cancelled, ch)
		case errors.Is(err, queue.ErrLeased), errors.Is(err, queue.ErrNotFound):
			res.NotCancelled[ch] = "started"
		default:
			s.writeUnavailable(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// handlePutPrefs is PUT /api/users/{id}/preferences: replaces the user's
// preferences and invalidates the cached copy.
func (s *Service) handlePutPrefs(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("id")
	if !userIDPattern.MatchString(user) {
		writeFieldError(w, badField("id", "want 1-128 of [A-Za-z0-9._@+-]"))
		return
	}
	var p Preferences
	if fe := decodeJSON(w, r, &p); fe != nil {
		writeFieldError(w, fe)
		return
	}
	if fe := p.validate(s.channels); fe != nil {
		writeFieldError(w, fe)
		return
	}
	p = p.normalised()
	ctx, cancel := deadline(r.Context())
	defer cancel()
	if err := s.prefs.put(ctx, user, p); err != nil {
		s.writeUnavailable(w, r, err)
		return
	}
	// Write, then invalidate (never update) the cache. Invalidate fences
	// off the loads of the old value in flight on every instance (a
	// tombstone in the shared cache), so none can put it back afterwards.
	if err := s.prefView.Invalidate(ctx, user); err != nil {
		s.log.Warn("notify: preference cache not invalidated; stale until its TTL", "user", user, "err", err)
	}
	writeJSON(w, http.StatusOK, p)
}

// handleGetPrefs is GET /api/users/{id}/preferences (defaults for a user
// who never set any).
func (s *Service) handleGetPrefs(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("id")
	if !userIDPattern.MatchString(user) {
		writeFieldError(w, badField("id", "want 1-128 of [A-Za-z0-9._@+-]"))
		return
	}
	ctx, cancel := deadline(r.Context())
	defer cancel()
	p, err := s.prefView.Get(ctx, user)
	if err != nil {
		s.writeUnavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.normalised())
}

// handleHealth is GET /healthz: 200 while started, 503 otherwise.
func (s *Service) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting or stopping"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
