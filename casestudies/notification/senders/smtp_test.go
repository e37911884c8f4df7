package senders

import (
	"bufio"
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smtpServer is a minimal SMTP server on loopback for the tests: it
// accepts one command at a time, records what it received, and answers
// RCPT with rcptReply (default 250).
type smtpServer struct {
	ln        net.Listener
	rcptReply string
	stall     bool // never greet: a hung server

	mu   sync.Mutex
	mail []receivedMail
	wg   sync.WaitGroup
}

type receivedMail struct {
	from string
	to   []string
	data string
}

func startSMTP(t *testing.T, rcptReply string, stall bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{ln: ln, rcptReply: rcptReply, stall: stall}
	if s.rcptReply == "" {
		s.rcptReply = "250 OK"
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) Addr() string { return s.ln.Addr().String() }

func (s *smtpServer) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mail...)
}

func (s *smtpServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if s.stall {
				_, _ = c.Read(make([]byte, 1)) // until the client gives up
				return
			}
			s.session(textproto.NewConn(c))
		}()
	}
}

func (s *smtpServer) session(tc *textproto.Conn) {
	_ = tc.PrintfLine("220 test ESMTP")
	var cur receivedMail
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			_ = tc.PrintfLine("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			cur = receivedMail{from: strings.Trim(line[len("MAIL FROM:"):], "<> ")}
			_ = tc.PrintfLine("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			if strings.HasPrefix(s.rcptReply, "250") {
				cur.to = append(cur.to, strings.Trim(line[len("RCPT TO:"):], "<> "))
			}
			_ = tc.PrintfLine("%s", s.rcptReply)
		case cmd == "DATA":
			_ = tc.PrintfLine("354 go ahead")
			data, err := tc.ReadDotBytes()
			if err != nil {
				return
			}
			cur.data = string(data)
			s.mu.Lock()
			s.mail = append(s.mail, cur)
			s.mu.Unlock()
			_ = tc.PrintfLine("250 queued")
		case cmd == "QUIT":
			_ = tc.PrintfLine("221 bye")
			return
		default:
			_ = tc.PrintfLine("502 unknown")
		}
	}
}

func TestSMTPDelivers(t *testing.T) {
	srv := startSMTP(t, "", false)
	s, err := NewSMTP(SMTPConfig{Addr: srv.Addr(), From: "Notifier <noreply@example.com>",
		Clock: func() time.Time { return time.Unix(1_700_000_000, 0) }})
	require.NoError(t, err)
	m := Message{ID: "n1.email", Channel: "email", To: "ann@example.com", Subject: "Grüße\r\nBcc: evil@x", Body: "line1\n.line2"}
	require.NoError(t, s.Send(context.Background(), m))

	got := srv.received()
	require.Len(t, got, 1)
	assert.Equal(t, "noreply@example.com", got[0].from)
	assert.Equal(t, []string{"ann@example.com"}, got[0].to)
	msg, err := textproto.NewReader(bufio.NewReader(strings.NewReader(got[0].data))).ReadMIMEHeader()
	require.NoError(t, err)
	assert.Equal(t, "<ann@example.com>", msg.Get("To"))
	assert.Equal(t, "<n1.email@127.0.0.1>", msg.Get("Message-Id"))
	assert.Empty(t, msg.Get("Bcc"), "a subject cannot inject a header")
	assert.Contains(t, msg.Get("Subject"), "=?utf-8?q?", "non-ASCII subject is encoded")
	assert.Contains(t, got[0].data, "line1\n.line2", "dot-stuffing is undone by the server: body intact")
}

func TestSMTPInvalidAddressIsPermanent(t *testing.T) {
	srv := startSMTP(t, "", false)
	s, err := NewSMTP(SMTPConfig{Addr: srv.Addr(), From: "noreply@example.com"})
	require.NoError(t, err)
	err = s.Send(context.Background(), Message{ID: "x", To: "not an address"})
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	assert.Empty(t, srv.received(), "nothing sent")
}

func TestSMTPRepliesAreClassified(t *testing.T) {
	for reply, permanent := range map[string]bool{
		"550 no such user":       true,
		"451 try again later":    false,
		"452 mailbox over quota": false,
	} {
		t.Run(reply[:3], func(t *testing.T) {
			srv := startSMTP(t, reply, false)
			s, err := NewSMTP(SMTPConfig{Addr: srv.Addr(), From: "noreply@example.com"})
			require.NoError(t, err)
			err = s.Send(context.Background(), Message{ID: "x", To: "ann@example.com"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), reply[:3])
			assert.Equal(t, permanent, IsPermanent(err))
		})
	}
}

func TestSMTPHungServerTimesOut(t *testing.T) {
	srv := startSMTP(t, "", true)
	s, err := NewSMTP(SMTPConfig{Addr: srv.Addr(), From: "noreply@example.com", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	err = s.Send(context.Background(), Message{ID: "x", To: "ann@example.com"})
	require.Error(t, err)
	assert.False(t, IsPermanent(err))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSMTPCancelledContext(t *testing.T) {
	srv := startSMTP(t, "", true)
	s, err := NewSMTP(SMTPConfig{Addr: srv.Addr(), From: "noreply@example.com"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err = s.Send(ctx, Message{ID: "x", To: "ann@example.com"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSMTPUnreachableIsTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s, err := NewSMTP(SMTPConfig{Addr: addr, From: "noreply@example.com"})
	require.NoError(t, err)
	err = s.Send(context.Background(), Message{ID: "x", To: "ann@example.com"})
	require.Error(t, err)
	assert.False(t, IsPermanent(err))
}

func TestNewSMTPRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no addr":          {From: "a@b.c"},
		"no port":          {Addr: "localhost", From: "a@b.c"},
		"no from":          {Addr: "localhost:25"},
		"bad from":         {Addr: "localhost:25", From: "nope"},
		"negative timeout": {Addr: "localhost:25", From: "a@b.c", Timeout: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewSMTP(cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}
