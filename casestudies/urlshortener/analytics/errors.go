package analytics

import "errors"

var (
	// ErrInvalidConfig wraps every error about a bad Config given to New.
	ErrInvalidConfig = errors.New("analytics: invalid config")
	// ErrInvalidClick wraps the error of a Click that cannot be recorded:
	// an empty code, or one that is not a single topic segment.
	ErrInvalidClick = errors.New("analytics: invalid click")
	// ErrOverloaded is returned by Record when its buffer is full: the
	// publishers cannot keep up (or the bus is down). The click is not recorded; the redirect should go on.
	ErrOverloaded = errors.New("analytics: click buffer full")
	// ErrClosed is returned by calls on an Analytics that is closing or
	// closed.
	ErrClosed = errors.New("analytics: closed")
	// ErrNotStarted is returned by Flush before Start.
	ErrNotStarted = errors.New("analytics: not started")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("analytics: already started")
)
