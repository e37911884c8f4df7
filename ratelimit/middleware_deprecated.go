package ratelimit

import "net/http"

// The middleware options' names before the With… style. Each is a thin
// wrapper, so call sites written against them keep compiling.

// TrustedProxies is WithTrustedProxies.
//
// Deprecated: use WithTrustedProxies.
func TrustedProxies(cidrs ...string) ClientIPOption { return WithTrustedProxies(cidrs...) }

// IPv6Prefix is WithIPv6Prefix.
//
// Deprecated: use WithIPv6Prefix.
func IPv6Prefix(bits int) ClientIPOption { return WithIPv6Prefix(bits) }

// ProxyHeader is WithProxyHeader.
//
// Deprecated: use WithProxyHeader.
func ProxyHeader(name string) ClientIPOption { return WithProxyHeader(name) }

// LegacyHeaders is WithLegacyHeaders.
//
// Deprecated: use WithLegacyHeaders.
func LegacyHeaders() MiddlewareOption { return WithLegacyHeaders() }

// PolicyName is WithPolicyName.
//
// Deprecated: use WithPolicyName.
func PolicyName(name string) MiddlewareOption { return WithPolicyName(name) }

// OnDeny is WithOnDeny.
//
// Deprecated: use WithOnDeny.
func OnDeny(f func(w http.ResponseWriter, r *http.Request, d Decision)) MiddlewareOption {
	return WithOnDeny(f)
}

// OnError is WithOnError.
//
// Deprecated: use WithOnError.
func OnError(f func(w http.ResponseWriter, r *http.Request, err error) bool) MiddlewareOption {
	return WithOnError(f)
}

// OnTooManyKeys is WithOnTooManyKeys.
//
// Deprecated: use WithOnTooManyKeys.
func OnTooManyKeys(f func(r *http.Request, key string)) MiddlewareOption {
	return WithOnTooManyKeys(f)
}
