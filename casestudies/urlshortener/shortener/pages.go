package shortener

import (
	"errors"
	"net/http"

	"github.com/sysdesign/patterns/casestudies/urlshortener/web"
)

// mountPages adds the HTML routes of package web: the form at / (its POST
// limited and validated like the API), the stats pages at /{code}+ (served
// by handleRedirect), and the assets at /static/.
func (s *Server) mountPages(mux *http.ServeMux, createLimit func(http.Handler) http.Handler) error {
	pages, err := web.New(web.WithClock(s.cfg.Clock))
	if err != nil {
		return err
	}
	s.pages = pages
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		pages.Home(w, http.StatusOK, web.HomeData{})
	})
	mux.Handle("POST /{$}", createLimit(http.HandlerFunc(s.handleForm)))
	mux.Handle("GET /static/", http.StripPrefix("/static/", pages.Assets()))
	return nil
}

// handleForm creates a link from the home page's form and shows the result,
// or the error next to its field.
func (s *Server) handleForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		s.pages.Home(w, status, web.HomeData{Error: "The form could not be read.", Field: "url"})
		return
	}
	d := web.HomeData{URL: r.PostForm.Get("url"), Alias: r.PostForm.Get("alias")}
	l, _, err := s.create(r.Context(), CreateRequest{URL: d.URL, Alias: d.Alias})
	if err != nil {
		e := toAPIError(err)
		d.Error, d.Field = e.Message, e.Field
		s.pages.Home(w, e.Status, d)
		return
	}
	d.Code, d.ShortURL = l.Code, s.ShortURL(l.Code)
	s.pages.Home(w, http.StatusOK, d)
}

// handleStatsPage shows a link's statistics page.
func (s *Server) handleStatsPage(w http.ResponseWriter, r *http.Request, code string) {
	l, err := s.link(r.Context(), code)
	if err != nil {
		e := toAPIError(err)
		http.Error(w, e.Message, e.Status)
		return
	}
	st, err := s.analytics.Stats(r.Context(), code)
	if err != nil {
		s.cfg.Logger.Warn("stats failed", "code", code, "err", err)
		http.Error(w, "Statistics are not available right now.", http.StatusServiceUnavailable)
		return
	}
	s.pages.Stats(w, web.StatsData{Code: code, ShortURL: s.ShortURL(code), URL: l.URL, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, Stats: st})
}
