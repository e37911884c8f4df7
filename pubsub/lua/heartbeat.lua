-- Keeps a live consumer's entries from being reclaimed (resets their idle
-- time, leaving delivery counts alone) and renews an ephemeral group's
-- lease.
-- KEYS[1] stream, KEYS[2] ephemeral leases
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] lease ms or '', ARGV[4…] ids
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', p[1][4], 'JUSTID')
  end
end
if ARGV[3] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[3]), ARGV[1])
end
return 1
