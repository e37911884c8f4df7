-- Several token or leaky bucket decisions in one script call (bucket_decide.lua, prepended, makes
-- each): the decision for each of KEYS[i], in order, so that the decisions a pipeline carries for
-- one limiter cost Redis one script call and one TIME instead of one of each per decision (each
-- costs about as much as the decision).
-- ARGV: rate, burst, period µs, TTL slack ms, then for KEYS[i]: ARGV[3+2i] now µs ('' = server TIME),
-- ARGV[4+2i] n (0: peek).
-- Returns one element per key: "allowed debt", or the Redis error of that key alone (WRONGTYPE),
-- which leaves the other decisions standing.
local rate, period, slack = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local capacity = tonumber(ARGV[2]) * period
local server -- the server's TIME, read once, when a decision asks for it
local out = {}
for i = 1, #KEYS do
  local nowS = ARGV[3 + 2 * i]
  if nowS == '' then
    server = server or serverNow()
    nowS = server
  end
  local st = redis.pcall('GET', KEYS[i])
  if type(st) == 'table' then
    out[i] = st -- an error reply: this decision's alone
  else
    out[i] = decide(KEYS[i], st, nowS, tonumber(ARGV[4 + 2 * i]), rate, capacity, period, slack)
  end
end
return out
