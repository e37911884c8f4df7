package senders

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook signature headers: SignatureHeader carries
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), and
// TimestampHeader the Unix seconds that went into it, so a receiver can
// both verify the body and refuse replays of old requests.
const (
	SignatureHeader = "X-Notification-Signature"
	TimestampHeader = "X-Notification-Timestamp"
	// IDHeader carries Message.ID, for the receiver's duplicate check.
	IDHeader = "X-Notification-Id"
)

// DefaultWebhookTimeout bounds one webhook request when
// WebhookConfig.Timeout is zero.
const DefaultWebhookTimeout = 10 * time.Second

// maxErrorBody is how much of a failed answer's body an error quotes.
const maxErrorBody = 512

// WebhookConfig configures NewWebhook.
type WebhookConfig struct {
	// URL receives the POSTs (http or https). Required.
	URL string
	// Secret keys the HMAC signature. Required: an unsigned webhook lets
	// anyone who finds the URL forge notifications.
	Secret string
	// Timeout bounds each request (default DefaultWebhookTimeout).
	Timeout time.Duration
	// Client sends the requests (default: a client of its own).
	Client *http.Client
	// Clock stamps the signature (default time.Now).
	Clock func() time.Time
}

// Webhook POSTs each message as JSON to a URL, signed with HMAC-SHA256.
// 2xx is success; 408, 429 and 5xx answers and transport errors are
// transient; any other answer is permanent (the receiver refused this
// message and would refuse it again).
type Webhook struct {
	url     string
	secret  []byte
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

// webhookBody is the JSON a webhook receives.
type webhookBody struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	To       string `json:"to"`
	Priority string `json:"priority,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Body     string `json:"body"`
	Attempt  int    `json:"attempt"`
}

// NewWebhook returns a webhook sender; errors wrap ErrInvalidConfig.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: webhook URL %q is not an absolute http(s) URL", ErrInvalidConfig, cfg.URL)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("%w: webhook secret is empty", ErrInvalidConfig)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: webhook timeout %v is negative", ErrInvalidConfig, cfg.Timeout)
	}
	w := &Webhook{url: cfg.URL, secret: []byte(cfg.Secret), timeout: cfg.Timeout, client: cfg.Client, now: cfg.Clock}
	if w.timeout == 0 {
		w.timeout = DefaultWebhookTimeout
	}
	if w.client == nil {
		w.client = &http.Client{}
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// Sign returns the signature header value for a body sent at timestamp
// (Unix seconds): what a receiver recomputes and compares with
// hmac.Equal.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send POSTs m; see Webhook for how failures are classified.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	//lint:ignore S1016 the wire format is spelled out field by field, so a new Message field never reaches receivers unannounced
	body, err := json.Marshal(webhookBody{ID: m.ID, Channel: m.Channel, To: m.To, Priority: m.Priority,
		Subject: m.Subject, Body: m.Body, Attempt: m.Attempt})
	if err != nil {
		return Permanent(fmt.Errorf("webhook: encode: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("webhook: %w", err))
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(w.secret, ts, body))
	req.Header.Set(IDHeader, m.ID)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook: %s answered %d: %s", w.url, resp.StatusCode, bytes.TrimSpace(snippet))
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500:
		return err
	}
	return Permanent(err)
}
