-- Shared by every script (prepended by redis_scripts.go).
-- Times are integer microseconds. Lua numbers are doubles, exact to 2^53
-- (about the year 2255 in µs), and tostring would print them as 1.7e+15:
-- num() formats every number a script stores or returns.
local function num(n) return string.format('%.0f', n) end

-- server_us: the Redis server's clock; leases always use it.
local function server_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- meta of a job: "priority|attempt|enqueued_us|due_us|lease_token|member|nonce";
-- the token is empty while the job is queued; the nonce identifies the
-- Enqueue call that created it. The member (a zero-padded
-- enqueue sequence number, then the ID) is the job's entry in the ready,
-- scheduled and leases sets: equal scores order by it, so FIFO.
local function get_meta(key, id)
  local raw = redis.call('HGET', key, id)
  if not raw then return nil end
  local p, a, e, d, tok, m, n = string.match(raw, '^(%d+)|(%d+)|(%-?%d+)|(%-?%d+)|([^|]*)|([^|]*)|(.*)$')
  return {prio = tonumber(p), attempt = tonumber(a), enq = e, due = tonumber(d), token = tok, member = m, nonce = n}
end

local function put_meta(key, id, m)
  redis.call('HSET', key, id, m.prio .. '|' .. m.attempt .. '|' .. m.enq .. '|' .. num(m.due) .. '|' .. m.token .. '|' .. m.member .. '|' .. m.nonce)
end

local function id_of(member) return string.sub(member, 17) end

-- queue_job puts a job in ready (due by now, scored by aging) or scheduled.
-- It returns whether blocked Dequeues need a wake-up: the ready set was
-- empty (so consumers may be waiting), or the job is the new earliest
-- scheduled one (so their timers are too late). Otherwise consumers are
-- busy and will find the job; waking them would only cost scripts.
local function queue_job(ready, sched, m, now, aging)
  if m.due > now then
    local head = redis.call('ZRANGE', sched, 0, 0, 'WITHSCORES')
    redis.call('ZADD', sched, num(m.due), m.member)
    return #head == 0 or m.due < tonumber(head[2])
  end
  local idle = redis.call('ZCARD', ready) == 0
  redis.call('ZADD', ready, num(m.due - m.prio * aging), m.member)
  return idle
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

-- forget_seq deletes the enqueue counter once the queue holds no job: it
-- only orders jobs against each other, so an empty queue may start again,
-- and a queue that is no longer used leaves no key behind.
local function forget_seq(meta, seq)
  if redis.call('HLEN', meta) == 0 then redis.call('DEL', seq) end
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
