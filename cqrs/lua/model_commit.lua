-- Store a batch of read-model changes together with the checkpoint, if
-- the checkpoint is still where the batch started (exactly once).
-- KEYS[1] meta (hash: cp checkpoint, bcp build checkpoint, bact active build token)
-- KEYS[2] the data hash written (the live one, or the build)
-- ARGV: checkpoint field ('cp' or 'bcp'), build token ('' for the live copy),
--       expected checkpoint, new checkpoint, number of puts n, n × (key, value), then keys to delete.
-- Returns {0} stored, {1, actual checkpoint} moved, {2} build superseded.
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'bact') ~= ARGV[2] then return {2} end
local cp = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cp ~= tonumber(ARGV[3]) then return {1, cp} end
local n = tonumber(ARGV[5])
local CHUNK = 500
local i = 6
local last = 5 + 2 * n
while i <= last do
  local j = math.min(i + 2 * CHUNK - 1, last)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, j))
  i = j + 1
end
while i <= #ARGV do
  local j = math.min(i + CHUNK - 1, #ARGV)
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return {0}
