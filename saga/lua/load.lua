-- Load: a consistent snapshot of one saga.
-- KEYS[1]: the saga's hash, KEYS[2]: its entries. Returns {} when unknown, else {status, entries}.
local s = redis.call('HGET', KEYS[1], 's')
if not s then return {} end
return {s, redis.call('LRANGE', KEYS[2], 0, -1)}
