package shortener

import (
	"net/http"
)

// mountPages adds the HTML routes (package web).
func (s *Server) mountPages(mux *http.ServeMux, createLimit func(http.Handler) http.Handler) error {
	return nil
}

func (s *Server) handleStatsPage(w http.ResponseWriter, r *http.Request, code string) {
	writeError(w, &apiError{Status: http.StatusNotFound, Message: "no page here yet"})
}
