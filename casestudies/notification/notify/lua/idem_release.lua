-- Release an idempotency key if it still holds ARGV[1]: an accept that
-- failed must not leave its key pointing at a notification that was never
-- written, nor delete a later claim.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
