package shortener

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// An MD5 collision puts two URLs in one stream; each keeps its own code.
func TestDedupComparesTheFullURL(t *testing.T) {
	var st dedupState
	var err error
	for _, e := range []dedupEntry{{URL: "https://a.example/", Code: "aaaaaaa"}, {URL: "https://b.example/", Code: "bbbbbbb"}} {
		st, err = evolveDedup(st, cqrs.MustEvent(EventDedupClaimed, e))
		require.NoError(t, err)
	}
	code, ok := st.lookup("https://b.example/")
	require.True(t, ok)
	require.Equal(t, "bbbbbbb", code)
	_, ok = st.lookup("https://c.example/")
	require.False(t, ok, "a third URL with the same hash is not a hit")
	st, err = evolveDedup(st, cqrs.MustEvent(EventDedupReleased, dedupEntry{URL: "https://a.example/", Code: "aaaaaaa"}))
	require.NoError(t, err)
	_, ok = st.lookup("https://a.example/")
	require.False(t, ok)
	_, ok = st.lookup("https://b.example/")
	require.True(t, ok)
}

// A create whose claim was written but whose link was not (an outage
// between the two appends) is completed by the next create of the URL.
func TestDedupCompletesAClaimWithoutLink(t *testing.T) {
	s := start(t, Config{})
	ctx := context.Background()
	const url = "https://example.com/half-written"
	_, err := s.srv.dedup.Execute(ctx, dedupID(url), func(dedupState) ([]cqrs.Event, error) {
		return []cqrs.Event{cqrs.MustEvent(EventDedupClaimed, dedupEntry{URL: url, Code: "half-00"})}, nil
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, s.get("/half-00").status, "the claim alone is not a link")

	r := s.create(map[string]any{"url": url})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "half-00", r.json(t)["code"])
	require.Equal(t, http.StatusFound, s.get("/half-00").status)
}

// A link deleted without its dedup release written is not handed out again.
func TestDedupSkipsADeletedLinkWhoseReleaseWasLost(t *testing.T) {
	s := start(t, Config{})
	ctx := context.Background()
	const url = "https://example.com/lost-release"
	code := s.mustCreate(map[string]any{"url": url})
	at, err := s.srv.links.ExecuteWithPosition(ctx, code, func(linkState) ([]cqrs.Event, error) {
		return []cqrs.Event{cqrs.MustEvent(EventLinkDeleted, codeRef{Code: code})}, nil
	})
	require.NoError(t, err)
	s.srv.settle(ctx, code, at.Position)

	r := s.create(map[string]any{"url": url})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	fresh := r.json(t)["code"].(string)
	require.NotEqual(t, code, fresh)
	require.Equal(t, http.StatusFound, s.get("/"+fresh).status)
	require.Equal(t, http.StatusOK, s.create(map[string]any{"url": url}).status, "and the new claim is the one used")
}

// The link table is a projection: rebuilt from the events, it holds the
// same links.
func TestLinkTableRebuilds(t *testing.T) {
	s := start(t, Config{})
	ctx := context.Background()
	keep := s.mustCreate(map[string]any{"url": "https://example.com/keep"})
	gone := s.mustCreate(map[string]any{"url": "https://example.com/gone"})
	require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/api/links/"+gone, nil).status)
	require.NoError(t, s.srv.runner.Rebuild(ctx))
	l, ok, err := s.srv.be.get(ctx, keep)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "https://example.com/keep", l.URL)
	_, ok, err = s.srv.be.get(ctx, gone)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"base url path":     {BaseURL: "http://sho.rt/x"},
		"base url scheme":   {BaseURL: "ftp://sho.rt"},
		"negative rate":     {CreateRate: -1},
		"negative redirect": {RedirectRate: -1},
		"short code key":    {CodeKey: []byte("short")},
		"key and seq":       {Sequential: true, CodeKey: []byte("0123456789abcdef")},
		"prefix braces":     {Prefix: "a{b}"},
		"negative timeout":  {WriteTimeout: -1},
		"bad own host":      {OwnHosts: []string{"http://x/"}},
	} {
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
	}
}
