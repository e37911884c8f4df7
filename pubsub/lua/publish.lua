-- Routes one message to every group stream bound to its topic, atomically
-- with a check that the caller's copy of the binding registry is current.
-- KEYS[1]  registry version (string)
-- KEYS[2…] the group streams the caller's registry routes the topic to
-- ARGV[1]  the registry version the caller routed with
-- ARGV[2]  MAXLEN (approximate) of each stream
-- ARGV[3…] the entry's field/value pairs
-- Returns -1 when the registry changed (route again), else the number of
-- streams written.
local v = redis.call('GET', KEYS[1]) or '0'
if v ~= ARGV[1] then
  return -1
end
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
end
return #KEYS - 1
