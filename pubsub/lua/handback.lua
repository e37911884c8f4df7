-- Hands an entry this consumer holds back to its group, unfinished: it
-- stays pending, made idle for the visibility timeout so that another
-- consumer's reclaim pass (XAUTOCLAIM) takes it at once. With ARGV[5] =
-- '1' its delivery count goes back by one, so that a delivery handed back
-- (ErrHandBack) or never made does not count towards MaxAttempts (the
-- reclaim counts the next delivery).
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id,
-- ARGV[4] idle ms, ARGV[5] '1' to take the delivery back
-- Returns 1, or 0 when the entry is no longer this consumer's.
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then
  return 0
end
local n = tonumber(p[1][4])
if ARGV[5] == '1' then
  n = math.max(n - 1, 0)
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', tonumber(ARGV[4]), 'RETRYCOUNT', n, 'JUSTID')
return 1
