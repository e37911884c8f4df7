package senders

import (
	"context"
	"errors"
)

// ErrInvalidConfig is wrapped by the constructors' errors for a
// configuration that cannot work (no URL, no secret, no server address).
var ErrInvalidConfig = errors.New("senders: invalid config")

// Message is what a Sender delivers: one notification on one channel.
type Message struct {
	// ID identifies the delivery (notification id and channel); receivers
	// use it to drop the duplicates a retry after a lost answer can cause.
	ID string
	// Channel is the channel name ("email", "sms", "push").
	Channel string
	// To is the recipient: an e-mail address for SMTP, a user id otherwise.
	To string
	// Priority is the notification's priority name ("critical" … "low").
	Priority string
	// Subject and Body are the content.
	Subject, Body string
	// Attempt counts deliveries of this message from 1.
	Attempt int
}

// Sender delivers messages to one provider. Send returns nil when the
// provider accepted the message, an error wrapped by Permanent when
// retrying cannot help, and any other error for a failure worth retrying.
// Implementations are safe for concurrent use and honour ctx.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// permanentError marks an error that retrying cannot cure.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the delivery fails at once instead of
// being retried. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent. A nil error is not permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
