-- Moves a message past MaxAttempts to the dead letters, atomically with
-- its ack: appends it to the dead-letter stream and routes it to the
-- groups bound to the dead-letter topic, then acknowledges it. The
-- appends come first, so that when Redis refuses writes (OOM) the entry
-- stays pending, to be dead-lettered later, instead of being acknowledged.
-- KEYS[1] registry version, KEYS[2] the group's stream, KEYS[3] dead-letter
-- stream, KEYS[4…] streams of the groups bound to the dead-letter topic
-- ARGV[1] registry version routed with, ARGV[2] group, ARGV[3] entry id,
-- ARGV[4] MAXLEN, ARGV[5…] the dead letter's field/value pairs
-- Returns -1 when the registry changed, 0 when the entry was no longer
-- pending (another consumer finished it), 1 when moved.
local v = redis.call('GET', KEYS[1]) or '0'
if v ~= ARGV[1] then
  return -1
end
local p = redis.call('XPENDING', KEYS[2], ARGV[2], ARGV[3], ARGV[3], 1)
if not p[1] then
  return 0
end
for i = 3, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
return 1
