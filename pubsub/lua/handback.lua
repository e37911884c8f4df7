-- Hands entries this consumer holds back to its group, unfinished: they
-- stay pending, made idle for the visibility timeout so that another
-- consumer's reclaim pass ('dead' in claim.lua) takes them at once. With
-- ARGV[4] = '1' each one's delivery count goes back by one, so that a
-- delivery handed back (ErrHandBack) or never made (read, but not started
-- when its subscription stopped) does not count towards MaxAttempts (the
-- reclaim counts the next delivery). Entries no longer this consumer's
-- are left alone. The consumer keeps them held (not heartbeated) until
-- this has run, so that its own reclaim passes do not take them first.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] idle ms,
-- ARGV[4] '1' to take the delivery back, ARGV[5…] entry ids
-- Returns how many entries were handed back.
local handed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] and p[1][2] == ARGV[2] then
    local n = tonumber(p[1][4])
    if ARGV[4] == '1' then
      n = math.max(n - 1, 0)
    end
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'IDLE', tonumber(ARGV[3]), 'RETRYCOUNT', n, 'JUSTID')
    handed = handed + 1
  end
end
return handed
