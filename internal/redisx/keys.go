package redisx

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadName is returned for a prefix or name that could break key layout.
var ErrBadName = errors.New("redisx: invalid key part")

// CheckPrefix accepts a key prefix: any bytes but braces, so that the hash
// tag a package puts after the prefix is the one Redis Cluster hashes, and
// a prefix cannot move a package's keys into another slot. Empty is fine.
func CheckPrefix(p string) error {
	if strings.ContainsAny(p, "{}") {
		return fmt.Errorf("%w: prefix %q contains a brace; a prefix must not decide hash slots", ErrBadName, p)
	}
	return nil
}

// CheckName accepts a name (of a breaker, saga, group…) that a package
// puts inside its hash tag or key: not empty and without braces, so that
// one name can never read as another's tag or key.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrBadName, what)
	}
	if strings.ContainsAny(s, "{}") {
		return fmt.Errorf("%w: %s %q contains a brace", ErrBadName, what, s)
	}
	return nil
}

// Tag wraps s in a hash tag: every key holding Tag(s) lives in one slot.
// s must have passed CheckName.
func Tag(s string) string { return "{" + s + "}" }
