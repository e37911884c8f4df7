-- One token or leaky bucket decision (bucket_decide.lua, prepended, makes it).
-- KEYS[1]: the bucket's state
-- ARGV: now µs ('' = server TIME), n (0: peek), rate, burst, period µs, leaky (0/1: unused here), TTL slack ms
-- Returns "allowed debt". Three Redis calls at most: TIME, GET, SET PX.
local nowS = ARGV[1]
if nowS == '' then nowS = serverNow() end
local rate, period = tonumber(ARGV[3]), tonumber(ARGV[5])
return decide(KEYS[1], redis.call('GET', KEYS[1]), nowS, tonumber(ARGV[2]), rate,
  tonumber(ARGV[4]) * period, period, tonumber(ARGV[7]))
