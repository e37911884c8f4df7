-- Release a pending claim whose accept failed, so that a retry (or a
-- request waiting on the key) can claim it: deletes KEYS[1] only if it
-- still holds "p:<ARGV[1]>", never a confirmed or a later claim.
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
