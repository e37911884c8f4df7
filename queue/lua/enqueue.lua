-- Enqueue: accept jobs unless their IDs are queued or leased: one job, or
-- the batch of concurrent Enqueues that redis_enqueue_group.go gathers,
-- each with its own answer.
-- KEYS: ready, sched, jobs, seq, wake
-- ARGV: aging_us, now_us ('' = server TIME), wake_ttl_ms,
--       pass_on ('1': no Dequeue of the caller's process is blocked),
--       then five per job: id, payload, priority, run_at_us ('' = now), nonce
-- Returns {wake, answer of job 1, answer of job 2, ...}. An answer is 0
-- (duplicate: the ID is queued or leased, or came earlier in this batch)
-- or 1 (accepted, now or by an earlier run of this very call: the job's
-- nonce tells). wake is 0 (no wake-up needed), 1 (passed on here) or 2
-- (the caller is to wake one of its Dequeues: see pass_wake).
--
-- A batch costs about what one job does: one HMGET checks every ID, one
-- INCRBY numbers the new jobs, one HSET stores them and one ZADD per set
-- queues them.
local aging = tonumber(ARGV[1])
local n = (#ARGV - 4) / 5
local ids = {}
for i = 1, n do ids[i] = ARGV[5 * i] end
local old = redis.call('HMGET', KEYS[3], unpack(ids))
local answers = {0}
local fresh, seen = {}, {}
for i = 1, n do
  local a = 0
  if old[i] then
    local j = parse(old[i])
    if j and j.nonce == ARGV[5 * i + 4] then a = 1 end
  elseif not seen[ids[i]] then
    seen[ids[i]] = true
    fresh[#fresh + 1] = i
    a = 1
  end
  answers[i + 1] = a
end
if #fresh == 0 then return answers end

local now = tonumber(ARGV[2]) or server_us()
local first = redis.call('INCRBY', KEYS[4], #fresh) - #fresh
local records, ready, sched = {}, {}, {}
local earliest
for k, i in ipairs(fresh) do
  local id, payload, prio, nonce = ids[i], ARGV[5 * i + 1], ARGV[5 * i + 2], ARGV[5 * i + 4]
  local due = tonumber(ARGV[5 * i + 3]) or now
  if due < now then due = now end
  local seq = string.format('%016.0f', first + k)
  records[#records + 1] = id
  records[#records + 1] = prio .. '|1|' .. num(now) .. '|' .. num(due) .. '|' .. seq .. '|' .. nonce .. '|' .. payload
  if due > now then
    sched[#sched + 1] = num(due)
    sched[#sched + 1] = seq .. id
    if not earliest or due < earliest then earliest = due end
  else
    ready[#ready + 1] = ready_score({due = due, prio = tonumber(prio)}, aging)
    ready[#ready + 1] = seq .. id
  end
end
redis.call('HSET', KEYS[3], unpack(records))
-- Wake consumers only when they may be waiting: the ready set was empty,
-- or a job is now the earliest scheduled one (their timers are too late).
local wake = false
if #ready > 0 then
  wake = redis.call('ZCARD', KEYS[1]) == 0
  redis.call('ZADD', KEYS[1], unpack(ready))
end
if earliest then
  local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #head == 0 or earliest < tonumber(head[2]) then wake = true end
  redis.call('ZADD', KEYS[2], unpack(sched))
end
if wake then answers[1] = pass_wake(KEYS[5], ARGV[3], ARGV[4]) end
return answers
