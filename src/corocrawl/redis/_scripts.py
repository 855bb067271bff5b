"""Lua scripts: each frontier step is one atomic script on the Redis server.

Times are the SERVER's clock (``TIME``), so workers on machines whose clocks
disagree still agree on which leases have expired. Scores are formatted with
``%.17g`` because Lua turns numbers into strings with only 14 digits.

Request ids (``rid``) come from one counter; a request's score in ``pending``
is ``-priority * 2^32 + rid``: higher priority first, then first in, first out.

The frontier is host-aware. Each host (``host:port``) has its own queue
``hq:<host>`` (same scores); ``hosts`` holds the hosts that have queued work
and a free slot, scored by the time each may next start a request; ``hbusy``
counts each host's leases that still hold its slot (cluster-wide, so per-host
caps are exact across workers); ``hnext`` is each host's next-ready time and
``hcfg`` its "cap spacing" as the workers' politeness last said. ``LEASE``
takes the host that has been ready longest, so hosts take turns and a busy
host never holds up the others. ``holding`` (rid -> host) marks the leases
whose slot is taken: a worker frees it when the fetch is over (``FREE_SLOTS``),
settle frees it if that never happened, and an expired lease frees it too.

Every frontier script takes the same 15 KEYS (``CrawlKeys.frontier``) and the
key prefix as ARGV[1]; host queue keys are built from it inside the script
(they share the crawl's ``{hash tag}``, so a cluster keeps them on one node).
"""

from __future__ import annotations

_COMMON = r"""
local K = {pending = KEYS[1], delayed = KEYS[2], leased = KEYS[3], owner = KEYS[4],
  data = KEYS[5], prio = KEYS[6], seq = KEYS[7], stats = KEYS[8], failures = KEYS[9],
  hosts = KEYS[10], hbusy = KEYS[11], hnext = KEYS[12], hcfg = KEYS[13], rhost = KEYS[14],
  holding = KEYS[15]}
local PREFIX = ARGV[1]
local function num(x) return string.format('%.17g', x) end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function hq(host) return PREFIX .. 'hq:' .. host end
local function cfg(host)
  local v = redis.call('HGET', K.hcfg, host)
  if v then
    local sep = string.find(v, ' ', 1, true)
    return tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
  end
  return 2147483647, 0
end
-- Put `host` among the ready hosts if it has queued work and a free slot.
local function touch(host)
  if redis.call('ZCARD', hq(host)) == 0 then return end
  local cap = cfg(host)
  if tonumber(redis.call('HGET', K.hbusy, host) or '0') >= cap then return end
  local nxt = tonumber(redis.call('HGET', K.hnext, host) or '0')
  redis.call('ZADD', K.hosts, 'NX', num(nxt), host)
end
-- A ready request (back) into the pending set and its host's queue.
local function queue(rid)
  local score = redis.call('HGET', K.prio, rid)
  local host = redis.call('HGET', K.rhost, rid)
  if not score or not host then return end
  redis.call('ZADD', K.pending, score, rid)
  redis.call('ZADD', hq(host), score, rid)
  touch(host)
end
-- The lease `rid` no longer holds its host's slot; the host waits `pause` s more.
local function free_slot(rid, now, pause)
  local host = redis.call('HGET', K.holding, rid)
  if not host then return end
  redis.call('HDEL', K.holding, rid)
  if redis.call('HINCRBY', K.hbusy, host, -1) <= 0 then redis.call('HDEL', K.hbusy, host) end
  local nxt = tonumber(redis.call('HGET', K.hnext, host) or '0')
  if pause > 0 and now + pause > nxt then
    nxt = now + pause
    redis.call('HSET', K.hnext, host, num(nxt))
    redis.call('ZADD', K.hosts, 'XX', 'GT', num(nxt), host)
  end
  if redis.call('ZCARD', hq(host)) == 0 then
    if nxt <= now and not redis.call('HGET', K.hbusy, host) then
      redis.call('HDEL', K.hnext, host)  -- idle and not cooling down: forget it
    end
  else
    touch(host)
  end
end
local function enqueue(now, bucket, field, nofilter, priority, delay, payload, host, hostcfg)
  if nofilter ~= '1' and redis.call('HSETNX', bucket, field, '') == 0 then
    return 0
  end
  local rid = redis.call('INCR', K.seq)
  local score = num(-tonumber(priority) * 4294967296 + rid)
  redis.call('HSET', K.data, rid, payload)
  redis.call('HSET', K.prio, rid, score)
  redis.call('HSET', K.rhost, rid, host)
  redis.call('HSET', K.hcfg, host, hostcfg)
  local d = tonumber(delay)
  if d > 0 then
    redis.call('ZADD', K.delayed, num(now + d), rid)
  else
    queue(rid)
  end
  return 1
end
"""

#: KEYS: the 15 frontier keys, then bucket1..bucketN
#: ARGV: prefix n, then per request: field nofilter priority delay payload host "cap spacing"
ADD = (
    _COMMON
    + r"""
local now = server_now()
local n = tonumber(ARGV[2])
local added = 0
for i = 1, n do
  local b = 2 + (i - 1) * 7
  added = added + enqueue(now, KEYS[15 + i], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3],
    ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7])
end
if added > 0 then redis.call('HINCRBY', K.stats, 'added', added) end
return added
"""
)

#: KEYS: the 15 frontier keys   ARGV: prefix worker lease_seconds count
#: Returns {wait_ms, rid1, payload1, rid2, payload2, ...}; wait_ms says how long
#: until something might be ready when nothing was handed out.
LEASE = (
    _COMMON
    + r"""
local now = server_now()
local worker, count = ARGV[2], tonumber(ARGV[4])
-- 1. Leases past their deadline belong to dead (or stalled) workers: back to pending.
local expired = redis.call('ZRANGEBYSCORE', K.leased, '-inf', num(now), 'LIMIT', 0, 256)
for _, rid in ipairs(expired) do
  redis.call('ZREM', K.leased, rid)
  redis.call('HDEL', K.owner, rid)
  free_slot(rid, now, 0)
  queue(rid)
end
if #expired > 0 then redis.call('HINCRBY', K.stats, 'reclaimed', #expired) end
-- 2. Retries whose not_before has come: back to pending.
local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', num(now), 'LIMIT', 0, 256)
for _, rid in ipairs(due) do
  redis.call('ZREM', K.delayed, rid)
  queue(rid)
end
-- 3. Lease up to `count` requests, each from the host ready longest.
local out = {0}
local deadline = num(now + tonumber(ARGV[3]))
for _ = 1, count * 2 do
  if #out > 2 * count then break end
  local top = redis.call('ZRANGEBYSCORE', K.hosts, '-inf', num(now), 'LIMIT', 0, 1)
  if #top == 0 then break end
  local host = top[1]
  local popped = redis.call('ZPOPMIN', hq(host), 1)
  if #popped == 0 then
    redis.call('ZREM', K.hosts, host)
  else
    local rid = popped[1]
    redis.call('ZREM', K.pending, rid)
    local cap, spacing = cfg(host)
    local busy = redis.call('HINCRBY', K.hbusy, host, 1)
    local nxt = now + spacing
    redis.call('HSET', K.hnext, host, num(nxt))
    if busy >= cap or redis.call('ZCARD', hq(host)) == 0 then
      redis.call('ZREM', K.hosts, host)
    else
      redis.call('ZADD', K.hosts, num(nxt), host)
    end
    redis.call('HSET', K.holding, rid, host)
    redis.call('ZADD', K.leased, deadline, rid)
    redis.call('HSET', K.owner, rid, worker)
    local payload = redis.call('HGET', K.data, rid)
    if payload then
      out[#out + 1] = rid
      out[#out + 1] = payload
    end
  end
end
if #out == 1 then
  local wait = 1000
  local nxt = redis.call('ZRANGE', K.hosts, 0, 0, 'WITHSCORES')
  if #nxt > 0 then wait = math.min(wait, (tonumber(nxt[2]) - now) * 1000) end
  nxt = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if #nxt > 0 then wait = math.min(wait, (tonumber(nxt[2]) - now) * 1000) end
  nxt = redis.call('ZRANGE', K.leased, 0, 0, 'WITHSCORES')
  if #nxt > 0 then wait = math.min(wait, (tonumber(nxt[2]) - now) * 1000) end
  out[1] = math.max(1, math.floor(wait))
end
return out
"""
)

#: KEYS: the 15 frontier keys   ARGV: prefix n, then per lease: rid pause "cap spacing"
#: A fetch is over: free its host's slot, hold the host `pause` s (Retry-After),
#: and record the host's current cap and spacing for its next lease.
FREE_SLOTS = (
    _COMMON
    + r"""
local now = server_now()
local n = tonumber(ARGV[2])
for i = 1, n do
  local b = 2 + (i - 1) * 3
  local rid = ARGV[b + 1]
  local host = redis.call('HGET', K.holding, rid)
  if host then
    redis.call('HSET', K.hcfg, host, ARGV[b + 3])
    free_slot(rid, now, tonumber(ARGV[b + 2]))
  end
end
return n
"""
)

#: KEYS: the 15 frontier keys, then bucket1..bucketN (children)
#: ARGV: prefix n_outcomes, per outcome: rid state delay payload error;
#:       then n_children, per child: field nofilter priority delay payload host "cap spacing"
#: Settling is idempotent: a request settled twice (a lease that expired while
#: its worker was slow, then finished elsewhere) counts once.
SETTLE = (
    _COMMON
    + r"""
local now = server_now()
local n = tonumber(ARGV[2])
local a = 3
local done, failed, retried, stale = 0, 0, 0, 0
for i = 1, n do
  local rid, state, delay = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local payload, err = ARGV[a + 3], ARGV[a + 4]
  a = a + 5
  free_slot(rid, now, 0)
  local live = redis.call('ZREM', K.leased, rid) + redis.call('ZREM', K.pending, rid)
    + redis.call('ZREM', K.delayed, rid)
  redis.call('HDEL', K.owner, rid)
  local host = redis.call('HGET', K.rhost, rid)
  if host then redis.call('ZREM', hq(host), rid) end
  if live == 0 then
    stale = stale + 1
  elseif state == 'retry' then
    redis.call('HSET', K.data, rid, payload)
    if delay > 0 then
      redis.call('ZADD', K.delayed, num(now + delay), rid)
    else
      queue(rid)
    end
    retried = retried + 1
  else
    redis.call('HDEL', K.data, rid)
    redis.call('HDEL', K.prio, rid)
    redis.call('HDEL', K.rhost, rid)
    if state == 'failed' then
      failed = failed + 1
      redis.call('LPUSH', K.failures, err)
    else
      done = done + 1
    end
  end
end
if failed > 0 then redis.call('LTRIM', K.failures, 0, 999) end
local nchildren = tonumber(ARGV[a])
local added = 0
for i = 1, nchildren do
  local b = a + (i - 1) * 7
  added = added + enqueue(now, KEYS[15 + i], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3],
    ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7])
end
if done > 0 then redis.call('HINCRBY', K.stats, 'done', done) end
if failed > 0 then redis.call('HINCRBY', K.stats, 'failed', failed) end
if retried > 0 then redis.call('HINCRBY', K.stats, 'retried', retried) end
if stale > 0 then redis.call('HINCRBY', K.stats, 'stale', stale) end
if added > 0 then redis.call('HINCRBY', K.stats, 'added', added) end
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

#: KEYS: the 15 frontier keys   ARGV: prefix worker rid...
#: Hand unprocessed leases back (a worker stopping cleanly) without waiting for expiry.
RELEASE = (
    _COMMON
    + r"""
local now = server_now()
local back = 0
for i = 3, #ARGV do
  local rid = ARGV[i]
  if redis.call('HGET', K.owner, rid) == ARGV[2] and redis.call('ZREM', K.leased, rid) == 1 then
    redis.call('HDEL', K.owner, rid)
    free_slot(rid, now, 0)
    queue(rid)
    back = back + 1
  end
end
return back
"""
)

#: KEYS: the 15 frontier keys, dead, dead_why   ARGV: prefix rid reason
DEAD_LETTER = (
    _COMMON
    + r"""
local now = server_now()
local rid = ARGV[2]
local payload = redis.call('HGET', K.data, rid)
free_slot(rid, now, 0)
redis.call('ZREM', K.leased, rid)
redis.call('HDEL', K.owner, rid)
redis.call('HDEL', K.data, rid)
redis.call('HDEL', K.prio, rid)
redis.call('HDEL', K.rhost, rid)
if payload then
  redis.call('HSET', KEYS[16], rid, payload)
  redis.call('HSET', KEYS[17], rid, ARGV[3])
  redis.call('HINCRBY', K.stats, 'dead', 1)
  return 1
end
return 0
"""
)

#: KEYS: workers   ARGV: worker heartbeat_msgpack
#: Heartbeats carry the server time so `status` can age them without trusting clocks.
HEARTBEAT = r"""
local t = redis.call('TIME')
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('HSET', KEYS[1], ARGV[1], stamp .. '|' .. ARGV[2])
return t[1]
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
