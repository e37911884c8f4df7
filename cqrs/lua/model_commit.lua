-- Store a batch of read-model changes together with the checkpoint, if
-- the copy written is still the one the batch read (exactly once).
-- KEYS[1] meta (hash: cp checkpoint, gen copy generation, bcp build
--         checkpoint, bact active build token)
-- KEYS[2] the data hash written (the live one, or the build)
-- ARGV: checkpoint field ('cp' or 'bcp'), build token ('' for the live copy),
--       expected checkpoint, new checkpoint, expected generation (live copy;
--       '' for a build), number of puts n, n × (key, value), then keys to delete.
-- The live copy's checkpoint alone does not tell copies apart: a swap can
-- leave it at the number a batch started from. The generation, bumped by
-- every swap, does: a batch whose reads came from the old copy must not
-- land in the new one.
-- Returns {0} stored, {1, actual checkpoint, actual generation} moved,
-- {2} build superseded.
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'bact') ~= ARGV[2] then return {2} end
local cp = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if cp ~= tonumber(ARGV[3]) or (ARGV[5] ~= '' and gen ~= tonumber(ARGV[5])) then
  return {1, cp, gen}
end
local n = tonumber(ARGV[6])
local CHUNK = 500
local i = 7
local last = 6 + 2 * n
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
