-- Take: Dequeue and Next, for one caller or a batch of concurrent ones
-- (see batcher): ack the delivery each caller finished (Next), reclaim
-- expired leases and move due scheduled jobs to ready (once for the
-- batch), then lease the best ready jobs to the callers in turn.
-- KEYS: ready, sched, leases, jobs, wake, seq, then two per caller: the
--       marker of its new lease token, and the marker of the delivery it
--       acks (its own marker again when it acks none)
-- ARGV: now_us ('' = server TIME), visibility_us, aging_us, batch, marker_ttl_ms, wake_ttl_ms,
--       pass_on ('1': no Dequeue of the caller's process is blocked, so jobs left ready wake other processes),
--       then three per caller: lease token, lease member it acks ('' = none), ack nonce
-- Returns {reclaimed, ready_left, answer of caller 1, ...}, where reclaimed
-- lists id, attempt of each job taken back from an expired lease and an
-- answer is {1, member, record} (leased), {0, wait_us} (nothing ready;
-- wait_us: until the next scheduled job is due or the next lease expires,
-- -1 if neither) or {-1} (the delivery to ack lost its lease: nothing is
-- taken for this caller).
local n = (#ARGV - 7) / 3
local function marker(i) return KEYS[5 + 2 * i] end
local function acked_marker(i) return KEYS[6 + 2 * i] end
local function token(i) return ARGV[5 + 3 * i] end
-- A second run of this very call (its reply was lost) answers what the
-- first run leased, instead of leasing another job to nobody; its ack was
-- done by that run too. One MGET reads every caller's marker.
local markers = {}
for i = 1, n do markers[i] = marker(i) end
local prevs = redis.call('MGET', unpack(markers))
local answers, takers, acked = {}, {}, {}
for i = 1, n do
  local prev = prevs[i]
  local lease, nonce = ARGV[6 + 3 * i], ARGV[7 + 3 * i]
  if prev and redis.call('ZSCORE', KEYS[3], token(i) .. prev) then
    answers[i] = {1, prev, redis.call('HGET', KEYS[4], id_of(prev)) or ''}
  elseif lease == '' then
    takers[#takers + 1] = i
  elseif redis.call('ZREM', KEYS[3], lease) == 1 then
    mark(acked_marker(i), 'done:' .. nonce, ARGV[5])
    acked[#acked + 1] = id_of(member_of(lease))
    takers[#takers + 1] = i
  elseif ended_before(acked_marker(i), nonce) then
    takers[#takers + 1] = i
  else
    answers[i] = {-1}
  end
end
if #acked > 0 then
  redis.call('HDEL', KEYS[4], unpack(acked))
  forget_seq(KEYS[4], KEYS[6])
end

local reclaimed, left = {}, 0
if #takers > 0 then
  local srv = server_us()
  local now = tonumber(ARGV[1]) or srv
  local aging = tonumber(ARGV[3])
  local batch = tonumber(ARGV[4])

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

  -- One ZPOPMIN, one HMGET and one ZADD lease the jobs of every taker.
  local top = redis.call('ZPOPMIN', KEYS[1], #takers)
  local got = #top / 2
  local raws = {}
  if got > 0 then
    local ids = {}
    for k = 1, got do ids[k] = id_of(top[2 * k - 1]) end
    raws = redis.call('HMGET', KEYS[4], unpack(ids))
  end
  local exp = num(srv + tonumber(ARGV[2]))
  local leases, wait = {}, nil
  for k, i in ipairs(takers) do
    if k <= got then
      local member, raw = top[2 * k - 1], raws[k]
      if raw then
        leases[#leases + 1] = exp
        leases[#leases + 1] = token(i) .. member
        mark(marker(i), member, ARGV[5])
        answers[i] = {1, member, raw}
      else
        answers[i] = {0, '0'} -- a record lost to a flush: skip it, look again
      end
    else
      wait = wait or num(next_wait(KEYS[2], KEYS[3], now, srv))
      answers[i] = {0, wait}
    end
  end
  if #leases > 0 then redis.call('ZADD', KEYS[3], unpack(leases)) end
  -- ready_left: Enqueue wakes consumers only when the ready set was empty,
  -- so while jobs are left the wake-up is passed on: here to other
  -- processes, by the caller to its own waiting Dequeues.
  if got == #takers then left = redis.call('ZCARD', KEYS[1]) end
  if left > 0 and ARGV[7] == '1' then wake(KEYS[5], ARGV[6]) end
end
local reply = {reclaimed, left}
for i = 1, n do reply[i + 2] = answers[i] end
return reply
