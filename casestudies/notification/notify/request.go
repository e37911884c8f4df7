package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sysdesign/patterns/queue"
)

// Limits of the API's input.
const (
	// MaxRequestBytes caps a request body. It is larger than the body
	// field's own limit (Config: DefaultMaxBody) because JSON escaping can
	// grow a text up to six times.
	MaxRequestBytes = 512 << 10
	maxSubject      = 998 // an e-mail header line's limit
	maxKey          = 128
	maxSendAhead    = 366 * 24 * time.Hour
	sendAtSlack     = time.Minute // send_at may be this far in the past (clock skew)
)

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,128}$`)

// fieldError is a 400 answer: which field is wrong, and how.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"error"`
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Message }

func badField(field, format string, args ...any) *fieldError {
	return &fieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// notificationRequest is the body of POST /api/notifications.
type notificationRequest struct {
	UserID         string   `json:"user_id"`
	Channels       []string `json:"channels"`
	Priority       string   `json:"priority"`
	Subject        string   `json:"subject"`
	Body           string   `json:"body"`
	SendAt         string   `json:"send_at"`
	IdempotencyKey string   `json:"idempotency_key"`
}

// accepted is a validated Notification.
type accepted struct {
	userID   string
	channels []string
	priority queue.Priority
	subject  string
	body     string
	sendAt   time.Time // zero: now
	key      string
}

// decodeJSON reads one JSON object into v, refusing unknown fields,
// trailing data and bodies over MaxRequestBytes; the error names the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *fieldError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return badField("", "trailing data after the JSON object")
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return badField("", "request body over %d bytes", MaxRequestBytes)
	case errors.As(err, &syntax):
		return badField("", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return badField(typ.Field, "want a JSON %s, got %s", typ.Type.Kind(), typ.Value)
	case errors.Is(err, io.EOF):
		return badField("", "empty request body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField("", "malformed JSON: unexpected end of the body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badField(name, "unknown field")
	}
	return badField("", "malformed JSON: %v", err)
}

// notification reads the request's send_at; the rest is checked by
// Notification.validate, shared with Submit.
func (req notificationRequest) notification() (Notification, *fieldError) {
	n := Notification{UserID: req.UserID, Channels: req.Channels, Priority: req.Priority, Subject: req.Subject,
		Body: req.Body, IdempotencyKey: req.IdempotencyKey}
	if req.SendAt != "" {
		t, err := time.Parse(time.RFC3339, req.SendAt)
		if err != nil {
			return n, badField("send_at", "want an RFC 3339 time such as 2030-01-02T15:04:05Z: %v", err)
		}
		n.SendAt = t
	}
	return n, nil
}

// validate checks n against the service's channels and limits; errors
// name the JSON field.
func (n Notification) validate(known map[string]bool, maxBody int, now time.Time) (accepted, *fieldError) {
	var a accepted
	switch {
	case n.UserID == "":
		return a, badField("user_id", "required")
	case !userIDPattern.MatchString(n.UserID):
		return a, badField("user_id", "want 1-128 of [A-Za-z0-9._@+-]")
	}
	a.userID = n.UserID
	if len(n.Channels) == 0 {
		return a, badField("channels", "required: at least one of %s", channelList(known))
	}
	for i, ch := range n.Channels {
		if !known[ch] {
			return a, badField(fmt.Sprintf("channels[%d]", i), "unknown channel %q (want one of %s)", ch, channelList(known))
		}
		if slices.Contains(n.Channels[:i], ch) {
			return a, badField(fmt.Sprintf("channels[%d]", i), "channel %q listed twice", ch)
		}
	}
	a.channels = slices.Clone(n.Channels)
	a.priority = queue.Normal
	if n.Priority != "" {
		p, err := queue.ParsePriority(n.Priority)
		if err != nil || n.Priority != p.String() {
			return a, badField("priority", "unknown priority %q (want critical, high, normal or low)", n.Priority)
		}
		a.priority = p
	}
	switch {
	case !utf8.ValidString(n.Subject):
		return a, badField("subject", "not valid UTF-8")
	case len(n.Subject) > maxSubject:
		return a, badField("subject", "over %d bytes", maxSubject)
	}
	a.subject = n.Subject
	switch {
	case strings.TrimSpace(n.Body) == "":
		return a, badField("body", "required and not blank")
	case len(n.Body) > maxBody:
		return a, badField("body", "over %d bytes (%d)", maxBody, len(n.Body))
	}
	a.body = n.Body
	if t := n.SendAt; !t.IsZero() {
		stamp := t.Format(time.RFC3339)
		switch {
		case t.Before(now.Add(-sendAtSlack)):
			return a, badField("send_at", "%s is more than %v in the past", stamp, sendAtSlack)
		case t.After(now.Add(maxSendAhead)):
			return a, badField("send_at", "%s is more than a year ahead", stamp)
		}
		if t.After(now) {
			a.sendAt = t
		}
	}
	switch {
	case len(n.IdempotencyKey) > maxKey:
		return a, badField("idempotency_key", "over %d bytes", maxKey)
	case !utf8.ValidString(n.IdempotencyKey) || strings.ContainsFunc(n.IdempotencyKey, isControl):
		return a, badField("idempotency_key", "want printable text")
	}
	a.key = n.IdempotencyKey
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// channelList lists the known channels in a stable order, for messages.
func channelList(known map[string]bool) string {
	names := make([]string, 0, len(known))
	for ch := range known {
		names = append(names, ch)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
