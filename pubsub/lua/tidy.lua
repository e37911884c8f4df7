-- Housekeeping of one group's stream, run by its consumers' reclaim pass.
-- 1. Trims the entries the group has acknowledged: everything older than
--    its oldest pending entry, or, with none pending, up to its last
--    delivered one (XTRIM MINID). Entries not yet delivered or not yet
--    acknowledged are never trimmed here (only XADD's MAXLEN cap does).
-- 2. Deletes consumers that hold no entries and have been idle for at
--    least ARGV[3] ms: the random names of processes that died. A live
--    consumer deleted that way loses nothing (it holds nothing) and is
--    recreated by its next read.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] this consumer, ARGV[3] idle ms
-- Returns {entries trimmed, consumers deleted}.
local function fields(t)
  local m = {}
  for i = 1, #t, 2 do
    m[t[i]] = t[i + 1]
  end
  return m
end
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then
  return {0, 0} -- no stream (the group was deleted)
end
local last
for _, g in ipairs(groups) do
  local f = fields(g)
  if f['name'] == ARGV[1] then
    last = f['last-delivered-id']
  end
end
if not last then
  return {0, 0}
end
-- With nothing pending, everything up to last (inclusive) is acknowledged.
local ms, seq = string.match(last, '^(%d+)-(%d+)$')
local minid = last
if ms and #seq < 15 then
  minid = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end
local p = redis.call('XPENDING', KEYS[1], ARGV[1])
if tonumber(p[1]) > 0 then
  minid = p[2]
end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', minid)
local deleted = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = fields(c)
  if f['name'] ~= ARGV[2] and tonumber(f['pending']) == 0 and tonumber(f['idle']) >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    deleted = deleted + 1
  end
end
return {trimmed, deleted}
