-- leased_before: a second run of the same call (its reply was lost)
-- returns the job the first one leased, instead of leasing another to
-- nobody; nil when this is the first run (or that lease has ended).
local function leased_before()
  local prev = redis.call('GET', KEYS[5])
  if prev and redis.call('ZSCORE', KEYS[3], ARGV[3] .. prev) then
    return {1, {}, prev, redis.call('HGET', KEYS[4], id_of(prev)) or '', 0}
  end
  return nil
end

-- take is Dequeue's work, shared by dequeue.lua and next.lua: reclaim
-- expired leases, move due scheduled jobs to ready, and lease the best
-- ready job.
-- KEYS 1-6: ready, sched, leases, jobs, marker, wake
-- ARGV 1-8: now_us ('' = server TIME), visibility_us, token, aging_us, batch, marker_ttl_ms, wake_ttl_ms,
--       pass_on ('1': no Dequeue of the caller's process is blocked, so jobs left ready wake other processes)
-- Returns {1, reclaimed, member, record, ready_left}
-- or {0, reclaimed, wait_us} (wait_us: until the next scheduled job is due
-- or the next lease expires; -1 if neither), where reclaimed lists
-- id, attempt of each job taken back from an expired lease.
local function take()
  local srv = server_us()
  local now = tonumber(ARGV[1]) or srv
  local token = ARGV[3]
  local aging = tonumber(ARGV[4])
  local batch = tonumber(ARGV[5])

  local reclaimed = {}
  for _, lease in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', num(srv), 'LIMIT', 0, batch)) do
    redis.call('ZREM', KEYS[3], lease)
    local member = member_of(lease)
    local id = id_of(member)
    local raw = redis.call('HGET', KEYS[4], id)
    local j = raw and parse(raw)
    if j then
      -- A reclaim counts as an attempt; the job keeps its due time, so the
      -- wait it already had still ages it.
      j.attempt = j.attempt + 1
      rewrite(KEYS[4], id, j, raw)
      redis.call('ZADD', KEYS[1], ready_score(j, aging), member)
      reclaimed[#reclaimed + 1] = id
      reclaimed[#reclaimed + 1] = j.attempt
    end
  end

  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', num(now), 'LIMIT', 0, batch)) do
    redis.call('ZREM', KEYS[2], member)
    local raw = redis.call('HGET', KEYS[4], id_of(member))
    local j = raw and parse(raw)
    if j then redis.call('ZADD', KEYS[1], ready_score(j, aging), member) end
  end

  local top = redis.call('ZPOPMIN', KEYS[1])
  if #top == 0 then
    return {0, reclaimed, num(next_wait(KEYS[2], KEYS[3], now, srv))}
  end

  local member = top[1]
  local raw = redis.call('HGET', KEYS[4], id_of(member))
  if not raw then return {0, reclaimed, '0'} end -- a record lost to a flush: skip it
  redis.call('ZADD', KEYS[3], num(srv + tonumber(ARGV[2])), token .. member)
  mark(KEYS[5], member, ARGV[6])
  -- ready_left: Enqueue wakes consumers only when the ready set was empty,
  -- so while jobs are left the wake-up is passed on: here to other
  -- processes, by the caller to its own waiting Dequeues.
  local left = redis.call('ZCARD', KEYS[1])
  if left > 0 and ARGV[8] == '1' then wake(KEYS[6], ARGV[7]) end
  return {1, reclaimed, member, raw, left}
end
