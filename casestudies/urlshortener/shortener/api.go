package shortener

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// linkJSON is a link as the API answers it.
type linkJSON struct {
	Code      string     `json:"code"`
	ShortURL  string     `json:"short_url"`
	URL       string     `json:"url"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	MaxVisits int64      `json:"max_visits,omitempty"`
	Status    Status     `json:"status,omitempty"`
}

func (s *Server) linkJSON(l Link, withStatus bool) linkJSON {
	j := linkJSON{Code: l.Code, ShortURL: s.ShortURL(l.Code), URL: l.URL, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, MaxVisits: l.MaxVisits}
	if withStatus {
		j.Status = l.Status
	}
	return j
}

// ShortURL is the short link of code.
func (s *Server) ShortURL(code string) string { return s.cfg.BaseURL + "/" + code }

// createBody is the JSON body of POST /api/links.
type createBody struct {
	URL       *string         `json:"url"`
	Alias     string          `json:"alias"`
	ExpiresIn json.RawMessage `json:"expires_in"`
	MaxVisits json.RawMessage `json:"max_visits"`
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	req, aerr := decodeCreate(w, r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l, created, err := s.create(r.Context(), req)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/links/"+l.Code)
	}
	writeJSON(w, status, s.linkJSON(l, false))
}

// decodeCreate reads a create request: JSON of at most MaxBodyBytes, known
// fields only, each of the right type.
func decodeCreate(w http.ResponseWriter, r *http.Request) (CreateRequest, *apiError) {
	var req CreateRequest
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return req, &apiError{Status: http.StatusUnsupportedMediaType, Message: "body must be application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes)}
		}
		return req, &apiError{Status: http.StatusBadRequest, Message: "body could not be read"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b createBody
	if err := dec.Decode(&b); err != nil {
		return req, jsonError(err)
	}
	if dec.More() {
		return req, &apiError{Status: http.StatusBadRequest, Message: "body holds more than one JSON value"}
	}
	if b.URL == nil {
		return req, badField("url", "url is required")
	}
	req.URL, req.Alias = *b.URL, b.Alias
	if len(b.ExpiresIn) > 0 && string(b.ExpiresIn) != "null" {
		d, err := parseExpiresIn(b.ExpiresIn)
		if err != nil {
			return req, badField("expires_in", err.Error())
		}
		req.ExpiresIn = d
	}
	if len(b.MaxVisits) > 0 && string(b.MaxVisits) != "null" {
		n, err := strconv.ParseInt(string(b.MaxVisits), 10, 64)
		if err != nil || n < 1 {
			return req, badField("max_visits", "max_visits must be a positive whole number")
		}
		req.MaxVisits = n
	}
	return req, nil
}

// parseExpiresIn reads expires_in as seconds (a JSON number) or a Go
// duration ("24h", "90m").
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	const msg = `expires_in must be a whole number of seconds or a duration such as "24h"`
	var d time.Duration
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New(msg)
		}
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New(msg)
		}
	} else {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n > int64(1<<62/time.Second) {
			return 0, errors.New(msg)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, errors.New("expires_in must be positive")
	}
	return d, nil
}

// jsonError names the field a decoding error is about, where it can.
func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{Status: http.StatusBadRequest, Message: "body is not valid JSON"}
	case errors.Is(err, io.EOF):
		return &apiError{Status: http.StatusBadRequest, Message: "body is empty; expected a JSON object"}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &apiError{Status: http.StatusBadRequest, Message: "body must be a JSON object"}
		}
		return badField(typ.Field, fmt.Sprintf("%s must be a %s", typ.Field, jsonKind(typ.Field)))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badField(name, fmt.Sprintf("unknown field %q", name))
	}
	return &apiError{Status: http.StatusBadRequest, Message: "body is not a valid create request"}
}

func jsonKind(field string) string {
	switch field {
	case "expires_in":
		return "number of seconds or a duration string"
	case "max_visits":
		return "positive whole number"
	}
	return "string"
}

// toAPIError maps the service's errors to responses.
func toAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Message: "no link has this code", Field: "code"}
	case errors.Is(err, ErrGone):
		return &apiError{Status: http.StatusGone, Message: "this link has expired or its visits are used up", Field: "code"}
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Message: "request cancelled"}
	default:
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the link store is not answering; try again shortly"}
	}
}

func (s *Server) handleRedirect(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if strings.HasSuffix(code, "+") {
		s.handleStatsPage(w, r, strings.TrimSuffix(code, "+"))
		return
	}
	l, err := s.resolve(r.Context(), code)
	if err != nil {
		switch {
		case errors.Is(err, ErrNotFound):
			s.stats.notFound.Add(1)
		case errors.Is(err, ErrGone):
			s.stats.gone.Add(1)
		}
		writeError(w, toAPIError(err))
		return
	}
	s.stats.redirects.Add(1)
	s.recordClick(r, code)
	status := http.StatusFound
	if s.cfg.Permanent {
		status = http.StatusMovedPermanently
	} else {
		// Nobody may cache a 302 either, or the clicks would not be counted.
		w.Header().Set("Cache-Control", "private, no-store")
	}
	w.Header().Set("Location", l.URL)
	w.WriteHeader(status)
}

// recordClick hands the click to analytics, which must not hold the
// redirect up for long; a failure costs a statistic, never the redirect.
func (s *Server) recordClick(r *http.Request, code string) {
	c := Click{Code: code, At: s.cfg.Clock().UTC(), Referrer: r.Referer(), UserAgent: r.UserAgent()}
	if err := s.analytics.Record(r.Context(), c); err != nil {
		s.stats.clickErrors.Add(1)
		s.cfg.Logger.Debug("click not recorded", "code", code, "err", err)
	}
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	l, err := s.link(r.Context(), r.PathValue("code"))
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, s.linkJSON(l, true))
}

// statsJSON is the answer of GET /api/links/{code}/stats.
type statsJSON struct {
	Code      string      `json:"code"`
	Total     int64       `json:"total"`
	Bots      int64       `json:"bots"`
	Referrers []countJSON `json:"referrers"`
	Days      []countJSON `json:"days"`
	Hours     []countJSON `json:"hours"`
	Browsers  []countJSON `json:"browsers,omitempty"`
	// BrowsersPartial: browsers misses clicks from before the statistic
	// was enabled (a Rebuild backfills them).
	BrowsersPartial bool  `json:"browsers_partial,omitempty"`
	Lag             int64 `json:"lag"`
}

// countJSON is one bar of a statistic.
type countJSON struct {
	Key string `json:"key"`
	N   int64  `json:"n"`
}

func counts(c []Count) []countJSON {
	out := make([]countJSON, len(c))
	for i, x := range c {
		out[i] = countJSON{Key: x.Key, N: x.N}
	}
	return out
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if _, err := s.link(r.Context(), code); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	st, err := s.analytics.Stats(r.Context(), code)
	if err != nil {
		s.cfg.Logger.Warn("stats failed", "code", code, "err", err)
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "statistics are not available right now"})
		return
	}
	j := statsJSON{Code: code, Total: st.Total, Bots: st.Bots, Referrers: counts(st.Referrers),
		Days: counts(st.Days), Hours: counts(st.Hours), BrowsersPartial: st.BrowsersPartial, Lag: st.Lag}
	if st.Browsers != nil {
		j.Browsers = counts(st.Browsers)
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.remove(r.Context(), r.PathValue("code")); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requireKey guards a management endpoint with Config.APIKey.
func (s *Server) requireKey(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="urlshortener"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Message: "missing or wrong API key (Authorization: Bearer <key>)", Field: "Authorization"})
			return
		}
		h(w, r)
	}
}
