-- Reads the binding registry and its version in one consistent snapshot.
-- KEYS[1] registry (hash group -> pattern), KEYS[2] version
-- Returns {version, group1, pattern1, group2, pattern2, …}.
local out = {redis.call('GET', KEYS[2]) or '0'}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do
  out[#out + 1] = all[i]
end
return out
