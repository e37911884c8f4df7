package shortener

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
)

// service is a Server behind a real HTTP listener, with a client that does
// not follow redirects.
type service struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	client *http.Client
	clock  *clocktest.Clock
	// shutdownMayFail: the test broke Redis, so Shutdown may report
	// what it could not flush.
	shutdownMayFail bool
}

// start serves cfg (a fake clock unless cfg has one; generous rate limits
// unless cfg sets them) until the test ends.
func start(t *testing.T, cfg Config) *service {
	t.Helper()
	clk := clocktest.NewAt(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	if cfg.CreateRate == 0 {
		cfg.CreateRate = 1_000_000
	}
	if cfg.RedirectRate == 0 {
		cfg.RedirectRate = 1_000_000
	}
	if cfg.Logger == nil && os.Getenv("SHORTENER_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://sho.rt"
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	hs := httptest.NewServer(srv.Handler())
	s := &service{t: t, srv: srv, http: hs, clock: clk}
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			if !s.shutdownMayFail {
				t.Errorf("Shutdown: %v", err)
			}
		}
	})
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// Generous: the race tests send a thousand requests at once, which a
		// loaded machine under -race can take many seconds to answer.
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 200},
	}
	s.client = client
	return s
}

// reply is a response read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (s *service) do(method, path string, body io.Reader, header ...string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, body)
	require.NoError(s.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// create posts a JSON create request built from fields.
func (s *service) create(fields map[string]any) reply {
	s.t.Helper()
	b, err := json.Marshal(fields)
	require.NoError(s.t, err)
	return s.do(http.MethodPost, "/api/links", bytes.NewReader(b), "Content-Type", "application/json")
}

// mustCreate creates a link and returns its code.
func (s *service) mustCreate(fields map[string]any) string {
	s.t.Helper()
	r := s.create(fields)
	require.Contains(s.t, []int{http.StatusCreated, http.StatusOK}, r.status, "create: %s", r.body)
	code, _ := r.json(s.t)["code"].(string)
	require.NotEmpty(s.t, code)
	return code
}

func (s *service) get(path string, header ...string) reply {
	s.t.Helper()
	return s.do(http.MethodGet, path, nil, header...)
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
