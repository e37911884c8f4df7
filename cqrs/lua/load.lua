-- Load one stream from a version on.
-- KEYS[1] the stream (list of positions)   KEYS[2] ev (hash: position -> event)
-- ARGV[1] first index to read (version - 1).
-- Returns {positions, events}.
local ps = redis.call('LRANGE', KEYS[1], ARGV[1], -1)
local out = {}
local CHUNK = 500
for i = 1, #ps, CHUNK do
  local vs = redis.call('HMGET', KEYS[2], unpack(ps, i, math.min(i + CHUNK - 1, #ps)))
  for j = 1, #vs do out[#out + 1] = vs[j] end
end
return {ps, out}
