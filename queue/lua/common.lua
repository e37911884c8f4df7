-- Shared by every script (prepended by redis_scripts.go).
-- Times are integer microseconds. Lua numbers are doubles, exact to 2^53
-- (about the year 2255 in µs), and tostring would print them as 1.7e+15:
-- num() formats every number a script stores or passes to Redis.
local function num(n) return string.format('%.0f', n) end

-- server_us: the Redis server's clock; leases always use it.
local function server_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- A job's record, in the jobs hash under its ID, is a header
-- "priority|attempt|enqueued_us|due_us|seq|nonce|" followed by the
-- payload, so that Dequeue hands it out with one HGET and no Lua string
-- work. seq is the 16-digit enqueue sequence number; the nonce identifies
-- the Enqueue call that created the job.
--
-- A job's member in the ready and scheduled sets is seq .. ID: equal
-- scores order by it, so FIFO. A lease's member in the leases set is the
-- 16-character lease token .. the job's member: Ack, Retry and Defer
-- remove it with one ZREM, which also proves the lease is still theirs.
local function parse(raw)
  local p, a, e, d, s, n = string.match(raw, '^(%d+)|(%d+)|(%-?%d+)|(%-?%d+)|(%d+)|([^|]*)|')
  if not p then return nil end
  return {prio = tonumber(p), attempt = tonumber(a), enq = e, due = tonumber(d), seq = s, nonce = n,
    hlen = #p + #a + #e + #d + #s + #n + 6}
end

-- rewrite stores a parsed job again, with its attempt or due time changed;
-- raw is the record it was parsed from (its payload is kept).
local function rewrite(jobs, id, j, raw)
  redis.call('HSET', jobs, id, j.prio .. '|' .. j.attempt .. '|' .. j.enq .. '|' .. num(j.due) .. '|' ..
    j.seq .. '|' .. j.nonce .. '|' .. string.sub(raw, j.hlen + 1))
end

local function id_of(member) return string.sub(member, 17) end
local function member_of(lease) return string.sub(lease, 17) end

-- ready_score ranks a due job once, by due − priority × aging (lower first).
local function ready_score(j, aging) return num(j.due - j.prio * aging) end

-- queue_job puts a job in ready (due by now) or scheduled. It returns
-- whether blocked Dequeues need a wake-up: the ready set was empty (so
-- consumers may be waiting), or the job is the new earliest scheduled one
-- (so their timers are too late). Otherwise consumers are busy and will
-- find the job; waking them would only cost scripts.
local function queue_job(ready, sched, member, j, now, aging)
  if j.due > now then
    local head = redis.call('ZRANGE', sched, 0, 0, 'WITHSCORES')
    redis.call('ZADD', sched, num(j.due), member)
    return #head == 0 or j.due < tonumber(head[2])
  end
  local idle = redis.call('ZCARD', ready) == 0
  redis.call('ZADD', ready, ready_score(j, aging), member)
  return idle
end

-- next_wait: with nothing ready, how long until the next scheduled job
-- is due or the next lease expires, in µs (0 if one already is; -1 if
-- there is neither).
local function next_wait(sched, leases, now, srv)
  local wait = -1
  local s = redis.call('ZRANGE', sched, 0, 0, 'WITHSCORES')
  if #s > 0 then wait = math.max(tonumber(s[2]) - now, 0) end
  local l = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if #l > 0 then
    local lw = math.max(tonumber(l[2]) - srv, 0)
    if wait < 0 or lw < wait then wait = lw end
  end
  return wait
end

-- wake tells blocked Dequeues (of any process) to look again.
-- At most 16 wake-ups wait in the list: enough to wake a fleet's idle
-- processes, and a full list costs one command.
local function wake(key, ttl_ms)
  if redis.call('LLEN', key) < 16 then
    redis.call('LPUSH', key, '1')
    redis.call('PEXPIRE', key, ttl_ms)
  end
end

-- pass_wake gives the wake-up a job needs: to the wake-up list when the
-- caller said none of its process's Dequeues is blocked (pass_on '1'),
-- returning 1; otherwise it returns 2, and the caller wakes one of its own
-- (a single job needs one consumer, not one in every process).
local function pass_wake(key, ttl_ms, pass_on)
  if pass_on == '1' then
    wake(key, ttl_ms)
    return 1
  end
  return 2
end

-- forget_seq deletes the enqueue counter once the queue holds no job: it
-- only orders jobs against each other, so an empty queue may start again,
-- and a queue that is no longer used leaves no key behind.
local function forget_seq(jobs, seq)
  if redis.call('HLEN', jobs) == 0 then redis.call('DEL', seq) end
end

-- A delivery's marker (KEYS: <prefix>{name}:d:<lease token>) makes the
-- calls of one delivery safe to run twice, as go-redis does when a reply
-- times out: it holds the job's member while leased and 'done:<nonce of
-- the call that ended it>' after, for a while (ARGV marker_ttl_ms). A
-- second run of that call (same nonce) succeeds; another call (a caller
-- ending a delivery twice) finds the lease lost.
local function mark(key, value, ttl_ms)
  redis.call('SET', key, value, 'PX', ttl_ms)
end

-- ended_before: the lease is gone; was it this very call (a second run)?
local function ended_before(marker, nonce)
  return redis.call('GET', marker) == 'done:' .. nonce
end
