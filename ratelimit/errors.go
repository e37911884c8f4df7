package ratelimit

import "errors"

var (
	// ErrInvalidConfig wraps every configuration error of a constructor.
	ErrInvalidConfig = errors.New("ratelimit: invalid config")
	// ErrInvalidRequest wraps errors for a bad argument to a call, such as n < 1.
	ErrInvalidRequest = errors.New("ratelimit: invalid request")
	// ErrExceedsLimit is returned for an n the limit can never admit at once
	// (above Burst for the buckets, above Rate for the windows). Waiting does
	// not help; split the request or raise the limit.
	ErrExceedsLimit = errors.New("ratelimit: n exceeds what the limit can ever allow")
	// ErrTooManyKeys is returned by a memory limiter at its WithMaxKeys cap
	// when a new key arrives and no idle key can be dropped to make room. It
	// is a decision, not a failure: it comes with a denied Decision whose
	// RetryAfter says when room may be free, and it concerns that key alone
	// (keys already tracked are decided as usual). Deny the request. The
	// wrappers pass it through unchanged (no degradation, no cooldown, no
	// Fallback secondary); the middleware answers 429 (see WithOnTooManyKeys).
	ErrTooManyKeys = errors.New("ratelimit: too many keys")
)
