"""Lua scripts: each frontier step is one atomic script on the Redis server.

Times are the SERVER's clock (``TIME``), so workers on machines whose clocks
disagree still agree on which leases have expired. Scores are formatted with
``%.17g`` because Lua turns numbers into strings with only 14 digits.

Request ids (``rid``) come from one counter; a request's score in ``pending``
is ``-priority * 2^32 + rid``: higher priority first, then first in, first out.
"""

from __future__ import annotations

# Shared by ADD and SETTLE: queue one request unless its fingerprint tail is
# already in its dedup bucket. `k` is the KEYS index of the bucket.
_ENQUEUE = r"""
local function num(x) return string.format('%.17g', x) end
local function enqueue(now, pending, delayed, data, prio, seq, bucket,
                       field, nofilter, priority, delay, payload)
  if nofilter ~= '1' and redis.call('HSETNX', bucket, field, '') == 0 then
    return 0
  end
  local rid = redis.call('INCR', seq)
  local score = num(-tonumber(priority) * 4294967296 + rid)
  redis.call('HSET', data, rid, payload)
  redis.call('HSET', prio, rid, score)
  local d = tonumber(delay)
  if d > 0 then
    redis.call('ZADD', delayed, num(now + d), rid)
  else
    redis.call('ZADD', pending, score, rid)
  end
  return 1
end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

#: KEYS: pending delayed data prio seq stats bucket1..bucketN
#: ARGV: n, then per request: field nofilter priority delay payload
ADD = (
    _ENQUEUE
    + r"""
local now = server_now()
local n = tonumber(ARGV[1])
local added = 0
for i = 1, n do
  local b = 1 + (i - 1) * 5
  added = added + enqueue(now, KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6 + i],
    ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5])
end
if added > 0 then redis.call('HINCRBY', KEYS[6], 'added', added) end
return added
"""
)

#: KEYS: pending delayed leased owner data prio stats
#: ARGV: worker lease_seconds count
#: Returns {wait_ms, rid1, payload1, rid2, payload2, ...}; wait_ms says how long
#: until something might be ready when nothing was handed out.
LEASE = (
    _ENQUEUE
    + r"""
local now = server_now()
local pending, delayed, leased, owner = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local data, prio, stats = KEYS[5], KEYS[6], KEYS[7]
-- 1. Leases past their deadline belong to dead (or stalled) workers: back to pending.
local expired = redis.call('ZRANGEBYSCORE', leased, '-inf', num(now), 'LIMIT', 0, 256)
for _, rid in ipairs(expired) do
  redis.call('ZREM', leased, rid)
  redis.call('HDEL', owner, rid)
  local score = redis.call('HGET', prio, rid)
  if score then redis.call('ZADD', pending, score, rid) end
end
if #expired > 0 then redis.call('HINCRBY', stats, 'reclaimed', #expired) end
-- 2. Retries whose not_before has come: back to pending.
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', num(now), 'LIMIT', 0, 256)
for _, rid in ipairs(due) do
  redis.call('ZREM', delayed, rid)
  local score = redis.call('HGET', prio, rid)
  if score then redis.call('ZADD', pending, score, rid) end
end
-- 3. Lease up to `count` requests.
local popped = redis.call('ZPOPMIN', pending, tonumber(ARGV[3]))
local out = {0}
local deadline = num(now + tonumber(ARGV[2]))
for i = 1, #popped, 2 do
  local rid = popped[i]
  local payload = redis.call('HGET', data, rid)
  if payload then
    redis.call('ZADD', leased, deadline, rid)
    redis.call('HSET', owner, rid, ARGV[1])
    out[#out + 1] = rid
    out[#out + 1] = payload
  end
end
if #out == 1 then
  local wait = 1000
  local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if #nxt > 0 then wait = math.min(wait, (tonumber(nxt[2]) - now) * 1000) end
  nxt = redis.call('ZRANGE', leased, 0, 0, 'WITHSCORES')
  if #nxt > 0 then wait = math.min(wait, (tonumber(nxt[2]) - now) * 1000) end
  out[1] = math.max(1, math.floor(wait))
end
return out
"""
)

#: KEYS: pending delayed leased owner data prio seq stats failures bucket1..bucketN (children)
#: ARGV: n_outcomes, per outcome: rid state delay payload error;
#:       then n_children, per child: field nofilter priority delay payload
#: Settling is idempotent: a request settled twice (a lease that expired while
#: its worker was slow, then finished elsewhere) counts once.
SETTLE = (
    _ENQUEUE
    + r"""
local now = server_now()
local pending, delayed, leased, owner, data, prio, seq, stats, failures =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local n = tonumber(ARGV[1])
local a = 2
local done, failed, retried, stale = 0, 0, 0, 0
for i = 1, n do
  local rid, state, delay = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local payload, err = ARGV[a + 3], ARGV[a + 4]
  a = a + 5
  local live = redis.call('ZREM', leased, rid) + redis.call('ZREM', pending, rid)
    + redis.call('ZREM', delayed, rid)
  redis.call('HDEL', owner, rid)
  if live == 0 then
    stale = stale + 1
  elseif state == 'retry' then
    redis.call('HSET', data, rid, payload)
    if delay > 0 then
      redis.call('ZADD', delayed, num(now + delay), rid)
    else
      redis.call('ZADD', pending, redis.call('HGET', prio, rid) or rid, rid)
    end
    retried = retried + 1
  else
    redis.call('HDEL', data, rid)
    redis.call('HDEL', prio, rid)
    if state == 'failed' then
      failed = failed + 1
      redis.call('LPUSH', failures, err)
    else
      done = done + 1
    end
  end
end
if failed > 0 then redis.call('LTRIM', failures, 0, 999) end
local nchildren = tonumber(ARGV[a])
local added = 0
for i = 1, nchildren do
  local b = a + (i - 1) * 5
  added = added + enqueue(now, pending, delayed, data, prio, seq, KEYS[9 + i],
    ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5])
end
if done > 0 then redis.call('HINCRBY', stats, 'done', done) end
if failed > 0 then redis.call('HINCRBY', stats, 'failed', failed) end
if retried > 0 then redis.call('HINCRBY', stats, 'retried', retried) end
if stale > 0 then redis.call('HINCRBY', stats, 'stale', stale) end
if added > 0 then redis.call('HINCRBY', stats, 'added', added) end
return {done, failed, retried, stale, added}
"""
)

#: KEYS: leased owner   ARGV: worker lease_seconds rid...
#: Extend this worker's leases; returns the rids it no longer holds.
RENEW = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local deadline = string.format('%.17g', now + tonumber(ARGV[2]))
local lost = {}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

#: KEYS: pending leased owner prio   ARGV: worker rid...
#: Hand unprocessed leases back (a worker stopping cleanly) without waiting for expiry.
RELEASE = r"""
local back = 0
for i = 2, #ARGV do
  local rid = ARGV[i]
  if redis.call('HGET', KEYS[3], rid) == ARGV[1] and redis.call('ZREM', KEYS[2], rid) == 1 then
    redis.call('HDEL', KEYS[3], rid)
    local score = redis.call('HGET', KEYS[4], rid)
    if score then redis.call('ZADD', KEYS[1], score, rid) end
    back = back + 1
  end
end
return back
"""

#: KEYS: leased owner data prio dead dead_why stats   ARGV: rid reason
DEAD_LETTER = r"""
local rid = ARGV[1]
local payload = redis.call('HGET', KEYS[3], rid)
redis.call('ZREM', KEYS[1], rid)
redis.call('HDEL', KEYS[2], rid)
redis.call('HDEL', KEYS[3], rid)
redis.call('HDEL', KEYS[4], rid)
if payload then
  redis.call('HSET', KEYS[5], rid, payload)
  redis.call('HSET', KEYS[6], rid, ARGV[2])
  redis.call('HINCRBY', KEYS[7], 'dead', 1)
  return 1
end
return 0
"""

#: KEYS: workers   ARGV: worker heartbeat_msgpack
#: Heartbeats carry the server time so `status` can age them without trusting clocks.
HEARTBEAT = r"""
local t = redis.call('TIME')
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('HSET', KEYS[1], ARGV[1], stamp .. '|' .. ARGV[2])
return t[1]
"""

#: KEYS: slots next   ARGV: token cap ttl_ms delay_ms
#: Take a politeness slot on one host if fewer than `cap` are held and the
#: host's delay has passed. Returns 0 when granted, else ms to wait.
SLOT_ACQUIRE = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 5
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return nxt - now end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local delay = tonumber(ARGV[4])
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay + 1000) end
return 0
"""

#: KEYS: slots keys (one per token)   ARGV: ttl_ms token...
SLOT_RENEW = r"""
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', deadline, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]) * 2)
end
return #KEYS
"""

#: KEYS: item_keys stream stats item1..itemN
#: ARGV: maxlen n, then per item: key nfields f1 v1 f2 v2 ...
#: HSET is exactly {**old, **new} at the top level of an item.
SINK_WRITE = r"""
local maxlen = ARGV[1]
local n = tonumber(ARGV[2])
local a = 3
local new = 0
for i = 1, n do
  local key, nf = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  if nf > 0 then
    local args = {}
    for j = 0, 2 * nf - 1 do args[#args + 1] = ARGV[a + j] end
    redis.call('HSET', KEYS[3 + i], unpack(args))
  end
  a = a + 2 * nf
  new = new + redis.call('SADD', KEYS[1], key)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'k', key)
end
if new > 0 then redis.call('HINCRBY', KEYS[3], 'items', new) end
return new
"""
