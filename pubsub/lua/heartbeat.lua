-- Renews a plain subscription's lease and keeps a live consumer's entries
-- from being reclaimed (resets their idle time, leaving delivery counts
-- alone). The lease comes first and with PEXPIRE, which Redis allows when
-- it refuses writes for lack of memory (it does not grow memory): a live
-- subscriber keeps its lease through an OOM. The schedule entry is
-- updated when Redis allows it (reap.lua copes when it could not be).
-- KEYS[1] stream, KEYS[2] lease schedule, KEYS[3] the group's lease
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] lease ms or '', ARGV[4…] ids
-- Returns 0 when the lease is gone (the group was reaped or lost: bind
-- it again), else 1.
local alive = 1
if ARGV[3] ~= '' then
  alive = redis.call('PEXPIRE', KEYS[3], ARGV[3])
  if alive == 1 then
    redis.pcall('ZADD', KEYS[2], 'XX', now_ms() + tonumber(ARGV[3]), ARGV[1])
  end
end
for i = 4, #ARGV do
  local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if ok and p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', p[1][4], 'JUSTID')
  end
end
return alive
