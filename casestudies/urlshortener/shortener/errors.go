package shortener

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Sentinel errors of the service; the HTTP layer maps them to status codes.
var (
	// ErrInvalidConfig wraps every configuration error of New.
	ErrInvalidConfig = errors.New("shortener: invalid config")
	// ErrNotFound: no link has this code (or it was deleted).
	ErrNotFound = errors.New("link not found")
	// ErrGone: the link expired or its visits are used up.
	ErrGone = errors.New("link is gone")
	// ErrTaken: the requested alias belongs to another link.
	ErrTaken = errors.New("alias is taken")
	// ErrUnavailable: the store did not answer in time; nothing was changed
	// that a retry would not complete.
	ErrUnavailable = errors.New("service temporarily unavailable")
)

// apiError is what a handler answers with: a status, a message for a person,
// and the request field at fault ("" when none).
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func badField(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: msg, Field: field}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, e)
}
