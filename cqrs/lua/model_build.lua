-- Start, swap in or discard a rebuild of a read model.
-- KEYS[1] meta   KEYS[2] live data   KEYS[3] build data
-- ARGV[1] 'new' | 'swap' | 'discard', ARGV[2] build token (swap, discard).
-- new: returns the new build's token (it supersedes any other).
-- swap/discard: returns 1 done, 0 the build was superseded.
-- A swap bumps the live copy's generation (gen), so that a live batch
-- read from the old copy cannot commit into the new one even when the
-- checkpoints are equal (see model_commit.lua).
-- Numbers are passed to Redis as strings made with '%.0f': never with
-- '..' or tostring, which use '%.14g' (1e+14).
if ARGV[1] == 'new' then
  local tok = redis.call('HINCRBY', KEYS[1], 'bseq', 1)
  redis.call('UNLINK', KEYS[3])
  redis.call('HSET', KEYS[1], 'bact', string.format('%.0f', tok), 'bcp', '0')
  return tok
end
if redis.call('HGET', KEYS[1], 'bact') ~= ARGV[2] then return 0 end
if ARGV[1] == 'swap' then
  redis.call('UNLINK', KEYS[2])
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RENAME', KEYS[3], KEYS[2]) end
  redis.call('HSET', KEYS[1], 'cp', redis.call('HGET', KEYS[1], 'bcp') or '0')
  redis.call('HINCRBY', KEYS[1], 'gen', 1)
else
  redis.call('UNLINK', KEYS[3])
end
redis.call('HDEL', KEYS[1], 'bact', 'bcp')
return 1
