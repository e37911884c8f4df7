-- Removes a consumer from its group when it holds no entries, so that
-- consumer names (random per process) do not pile up. A group that is
-- gone (DeleteGroup, or Redis lost it) has nothing to leave.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or p[1] then
  return 0
end
redis.pcall('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
