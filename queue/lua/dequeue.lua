-- Dequeue: reclaim expired leases, move due scheduled jobs to ready, and
-- lease the best ready job.
-- KEYS: ready, sched, leases, body, meta, marker
-- ARGV: now_us ('' = server TIME), visibility_us, token, aging_us, batch, marker_ttl_ms
-- Returns {1, reclaimed, id, payload, priority, attempt, enqueued_us, due_us, ready_left}
-- or {0, reclaimed, wait_us} (wait_us: until the next scheduled job is due
-- or the next lease expires; -1 if neither), where reclaimed lists
-- id, attempt of each job taken back from an expired lease.
local srv = server_us()
local now = tonumber(ARGV[1]) or srv
local aging = tonumber(ARGV[4])
local batch = tonumber(ARGV[5])

-- A second run of the same call (its reply was lost) returns the job the
-- first one leased instead of leasing another to nobody.
local prev = redis.call('GET', KEYS[6])
if prev then
  local id = id_of(prev)
  local m = get_meta(KEYS[5], id)
  if m and m.token == ARGV[3] then
    return {1, {}, id, redis.call('HGET', KEYS[4], id) or '', m.prio, m.attempt, m.enq, num(m.due), 0}
  end
end

local reclaimed = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', num(srv), 'LIMIT', 0, batch)) do
  redis.call('ZREM', KEYS[3], member)
  local id = id_of(member)
  local m = get_meta(KEYS[5], id)
  if m then
    -- A reclaim counts as an attempt; the job keeps its due time, so the
    -- wait it already had still ages it.
    m.attempt = m.attempt + 1
    m.token = ''
    put_meta(KEYS[5], id, m)
    redis.call('ZADD', KEYS[1], num(m.due - m.prio * aging), member)
    table.insert(reclaimed, id)
    table.insert(reclaimed, m.attempt)
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', num(now), 'LIMIT', 0, batch)
for _, member in ipairs(due) do
  local m = get_meta(KEYS[5], id_of(member))
  redis.call('ZREM', KEYS[2], member)
  if m then
    redis.call('ZADD', KEYS[1], num(m.due - m.prio * aging), member)
  end
end

local top = redis.call('ZRANGE', KEYS[1], 0, 0)
if #top == 0 then
  local wait = -1
  local s = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #s > 0 then wait = tonumber(s[2]) - now end
  local l = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if #l > 0 then
    local lw = tonumber(l[2]) - srv
    if wait < 0 or lw < wait then wait = lw end
  end
  if wait < 0 and #s + #l > 0 then wait = 0 end
  return {0, reclaimed, num(wait)}
end

local member = top[1]
local id = id_of(member)
redis.call('ZREM', KEYS[1], member)
local m = get_meta(KEYS[5], id)
if not m then return {0, reclaimed, '0'} end -- a body lost to a flush: skip it
m.token = ARGV[3]
put_meta(KEYS[5], id, m)
redis.call('ZADD', KEYS[3], num(srv + tonumber(ARGV[2])), member)
mark(KEYS[6], member, ARGV[6])
-- ready_left: Enqueue wakes consumers only when the ready set was empty,
-- so while jobs are left the caller passes the wake-up on.
local left = redis.call('ZCARD', KEYS[1])
return {1, reclaimed, id, redis.call('HGET', KEYS[4], id) or '', m.prio, m.attempt, m.enq, num(m.due), left}
