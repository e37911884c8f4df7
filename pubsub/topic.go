package pubsub

import (
	"fmt"
	"strings"
)

// MaxTopicLen bounds topics, patterns and group names, in bytes.
const MaxTopicLen = 512

// ValidateTopic reports whether topic can be published to: one or more
// non-empty segments separated by '.', none containing '*', '#', a space
// or a control character. The error wraps ErrInvalidTopic.
func ValidateTopic(topic string) error {
	return validate(topic, false)
}

// ValidatePattern reports whether pattern is a valid subscription pattern:
// like a topic, except that a segment may be exactly "*" (one segment) or
// "#" (zero or more segments). The error wraps ErrInvalidTopic.
func ValidatePattern(pattern string) error {
	return validate(pattern, true)
}

func validate(s string, pattern bool) error {
	what := "topic"
	if pattern {
		what = "pattern"
	}
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidTopic, what)
	}
	if len(s) > MaxTopicLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidTopic, what, MaxTopicLen)
	}
	start, wild := 0, false // wild: the segment so far holds a '*' or '#'
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if c <= ' ' || c == 0x7f {
				return fmt.Errorf("%w: %s %q has a space or control character", ErrInvalidTopic, what, s)
			}
			wild = wild || c == '*' || c == '#'
			continue
		}
		seg := s[start:i]
		if seg == "" {
			return fmt.Errorf("%w: %s %q has an empty segment", ErrInvalidTopic, what, s)
		}
		if wild && !(pattern && (seg == "*" || seg == "#")) {
			if pattern {
				return fmt.Errorf("%w: pattern %q: '*' and '#' must be whole segments", ErrInvalidTopic, s)
			}
			return fmt.Errorf("%w: topic %q contains a wildcard", ErrInvalidTopic, s)
		}
		start, wild = i+1, false
	}
	return nil
}

// normalizePattern folds runs of "#" segments into one ("a.#.#" matches
// exactly what "a.#" does), so that each subscription sits at one trie
// node.
func normalizePattern(p string) string {
	if !strings.Contains(p, "#.#") {
		return p
	}
	segs := strings.Split(p, ".")
	out := segs[:0]
	for _, s := range segs {
		if s == "#" && len(out) > 0 && out[len(out)-1] == "#" {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

// validateGroup checks a group name: it becomes part of Redis keys, so it
// is a topic-like token without braces.
func validateGroup(g string) error {
	if g == "" {
		return fmt.Errorf("%w: empty group name", ErrInvalidTopic)
	}
	if len(g) > MaxTopicLen {
		return fmt.Errorf("%w: group name longer than %d bytes", ErrInvalidTopic, MaxTopicLen)
	}
	for i := 0; i < len(g); i++ {
		if c := g[i]; c <= ' ' || c == 0x7f || c == '{' || c == '}' {
			return fmt.Errorf("%w: group %q has a space, control character or brace", ErrInvalidTopic, g)
		}
	}
	return nil
}
