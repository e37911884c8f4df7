package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run([]string{"-demo"}, &out, &errOut), "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	for _, want := range []string{
		"skipped: user opted out of sms",
		"CRITICAL was posted 7th and delivered",
		"retry in 100ms", "retry in 200ms", "retry in 400ms",
		"circuit open", "circuit half-open", "circuit closed",
		"no attempt used: provider circuit open",
		"scheduled, due in",
		"cancelled    email cancelled",
		"Done in",
	} {
		assert.Contains(t, out.String(), want)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("ADDR", "127.0.0.1:9999")
	t.Setenv("REDIS_CLUSTER", "a:1,b:2")
	t.Setenv("WORKERS", "3")
	o, err := parseFlags([]string{"-workers", "5"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9999", o.addr)
	assert.Equal(t, "a:1,b:2", o.redisCluster)
	assert.Equal(t, 5, o.workers, "the command line wins")

	t.Setenv("WORKERS", "many")
	_, err = parseFlags(nil, io.Discard)
	assert.ErrorContains(t, err, "WORKERS")
}

func TestFlagsRejected(t *testing.T) {
	for _, args := range [][]string{
		{"-redis", "a:1", "-redis-cluster", "b:2"},
		{"-nope"},
		{"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "%q", args)
	}
	_, err := buildSenders(options{webhookURL: "http://x/hook"}, io.Discard)
	assert.ErrorContains(t, err, "secret", "a webhook without a secret is refused")
	_, err = buildSenders(options{smtpAddr: "nohostport"}, io.Discard)
	assert.Error(t, err)
}

func TestServeAnswersHealthzAndShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, options{addr: addr, workers: 2}, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				assert.True(t, strings.Contains(string(body), `"ok"`))
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "never healthy")
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
