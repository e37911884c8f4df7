package senders

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// DefaultSMTPTimeout bounds one SMTP conversation when SMTPConfig.Timeout
// is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig configures NewSMTP.
type SMTPConfig struct {
	// Addr is the server's host:port. Required.
	Addr string
	// From is the envelope and header sender address. Required.
	From string
	// Auth, if set, authenticates after STARTTLS (net/smtp refuses PLAIN
	// auth over an unencrypted connection except to localhost).
	Auth smtp.Auth
	// TLS, if set, is used for STARTTLS when the server offers it; nil
	// sends in the clear (fine for a relay on loopback).
	TLS *tls.Config
	// Timeout bounds the whole conversation (default DefaultSMTPTimeout).
	Timeout time.Duration
	// Clock dates the messages (default time.Now).
	Clock func() time.Time
}

// SMTP sends each message as a plain-text e-mail through one server with
// net/smtp, a connection per message. Message.To must be an e-mail
// address. An invalid address and 5xx replies are permanent; 4xx replies
// and network errors are transient.
type SMTP struct {
	addr, host string
	from       *mail.Address
	auth       smtp.Auth
	tls        *tls.Config
	timeout    time.Duration
	now        func() time.Time
}

// NewSMTP returns an SMTP sender; errors wrap ErrInvalidConfig.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: SMTP address %q: %v", ErrInvalidConfig, cfg.Addr, err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("%w: SMTP from %q: %v", ErrInvalidConfig, cfg.From, err)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: SMTP timeout %v is negative", ErrInvalidConfig, cfg.Timeout)
	}
	s := &SMTP{addr: cfg.Addr, host: host, from: from, auth: cfg.Auth, tls: cfg.TLS, timeout: cfg.Timeout, now: cfg.Clock}
	if s.timeout == 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Send delivers m to m.To; see SMTP for how failures are classified.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return Permanent(fmt.Errorf("smtp: recipient %q: %w", m.To, err))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer conn.Close()
	// net/smtp takes no context: the deadline bounds every read and write,
	// and closing the connection ends the conversation when ctx is done.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	err = s.converse(conn, s.from.Address, to, m)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("smtp: %w (%v)", ctx.Err(), err)
	}
	return classifySMTP(err)
}

func (s *SMTP) converse(conn net.Conn, sender string, to *mail.Address, m Message) error {
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.tls != nil {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return err
			}
		}
	}
	if s.auth != nil {
		if err := c.Auth(s.auth); err != nil {
			return err
		}
	}
	if err := c.Mail(sender); err != nil {
		return err
	}
	if err := c.Rcpt(to.Address); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(s.compose(to, m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// compose renders the RFC 5322 message. Header values are stripped of line
// breaks so a subject cannot inject headers.
func (s *SMTP) compose(to *mail.Address, m Message) []byte {
	var b strings.Builder
	header := func(k, v string) {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		b.WriteString(k + ": " + v + "\r\n")
	}
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mimeWord(m.Subject))
	header("Date", s.now().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+"@"+s.host+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	b.WriteString("\r\n")
	return []byte(b.String())
}

// mimeWord encodes a non-ASCII subject (RFC 2047); ASCII passes unchanged.
func mimeWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}

// classifySMTP marks 5xx replies permanent; everything else (4xx, network)
// stays transient.
func classifySMTP(err error) error {
	if err == nil {
		return nil
	}
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return Permanent(fmt.Errorf("smtp: %w", err))
	}
	return fmt.Errorf("smtp: %w", err)
}
