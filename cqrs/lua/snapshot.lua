-- Save a snapshot unless a newer one is stored; either way it lives on for the TTL.
-- KEYS[1] the snapshot (hash: v version, s schema, d data). ARGV: version, schema, data, ttl ms.
-- Returns 1 saved, 0 a newer (or the same) version was there.
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur >= tonumber(ARGV[1]) and redis.call('HGET', KEYS[1], 's') == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
