package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

func TestDemoExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-demo"}, noEnv, &out, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	require.Contains(t, out.String(), "Tour complete")
}

func TestFlagsFallBackToEnvironment(t *testing.T) {
	env := map[string]string{"ADDR": "127.0.0.1:9999", "CREATE_RATE": "7", "REDIS_CLUSTER": "a:1,b:2", "API_KEY": "k"}
	o, err := parse([]string{"-create-rate", "5"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", o.addr)
	require.Equal(t, 5, o.createRate, "a flag on the command line wins over the environment")
	require.Equal(t, "a:1,b:2", o.redisCluster)
	require.Equal(t, "k", o.apiKey)

	_, err = parse(nil, func(k string) string { return map[string]string{"CREATE_RATE": "many"}[k] }, io.Discard)
	require.ErrorContains(t, err, "CREATE_RATE")
	require.Equal(t, 2, run(context.Background(), []string{"-create-rate", "-1"}, noEnv, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), []string{"-redis", "x:1", "-redis-cluster", "y:1"}, noEnv, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), []string{"stray"}, noEnv, io.Discard, io.Discard))
}

// The server serves until its context ends (a signal), then shuts down
// cleanly and exits 0.
func TestServeAndGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() { done <- run(ctx, []string{"-addr", addr}, noEnv, io.Discard, &syncWriter{w: &errOut}) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	resp, err := http.Post("http://"+addr+"/api/links", "application/json", strings.NewReader(`{"url":"https://example.com/"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(20 * time.Second):
		t.Fatal("no shutdown")
	}
}

// syncWriter serialises writes from the logger and the test.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
