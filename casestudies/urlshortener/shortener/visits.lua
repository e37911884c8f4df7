-- Takes one visit of a link with a visit limit, atomically.
-- KEYS[1]: the link's visit count. ARGV[1]: the limit.
-- Returns {1, count} when the visit is allowed, {0, count} when the limit
-- was already reached (and nothing changes).
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return {0, used}
end
return {1, redis.call('INCR', KEYS[1])}
