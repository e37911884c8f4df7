package ratelimit

// The bucket script (lua/bucket.lua) answers "allowed debt" only: number
// formatting costs a Lua script about as much as a Redis call, and the
// rest of the outcome follows from the debt and the spec, which this
// process knows as well as Redis does.

// parseBucketReply decodes the bucket script's "allowed debt".
func parseBucketReply(s string) (allowed bool, debt int64, err error) {
	if len(s) < 3 || (s[0] != '0' && s[0] != '1') || s[1] != ' ' {
		return false, 0, errBadReply
	}
	digits := s[2:]
	if len(digits) > 18 {
		return false, 0, errBadReply
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return false, 0, errBadReply
		}
		debt = debt*10 + int64(c-'0')
	}
	return s[0] == '1', debt, nil
}

// bucketOutcome is bucketState.decide's (or .peek's, for n = 0) outcome
// for a decision that left the bucket with debt: the same arithmetic, done
// here instead of in the script.
func (s *spec) bucketOutcome(allowed bool, debt, n int64) outcome {
	capacity := s.burst * s.periodUS
	o := outcome{allowed: allowed, remaining: (capacity - debt) / s.periodUS, reset: debt}
	switch {
	case !allowed:
		cost := max(n, 1) * s.periodUS // a peek decides on one unit
		o.retry = debt - (capacity - cost)
	case n > 0 && s.alg == LeakyBucket:
		o.delay = debt - s.periodUS // until the last of the n slots leaves
	}
	return o
}
