package notify

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeFieldError answers 400 naming the field.
func writeFieldError(w http.ResponseWriter, fe *fieldError) {
	writeJSON(w, http.StatusBadRequest, fe)
}

// writeUnavailable answers 503 with Retry-After: a backend did not answer;
// nothing was changed that the client has to know about.
func (s *Service) writeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Warn("notify: backend unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable, retry shortly"})
}

// recoverer turns a panic in a handler into a logged 503 rather than a
// dropped connection; a panic is a bug, never the client's fault.
func recoverer(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("notify: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
