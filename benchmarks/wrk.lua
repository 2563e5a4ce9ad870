-- wrk script for benchmarks/wrk.py: small-object PUTs and GETs, one JSON line from done().
--
-- wrk -t1 -c32 -d10s --latency -s benchmarks/wrk.lua URL -- MODE PREFIX AUTH SIZE KEYFILE THREADS
--   MODE    put: PUT PREFIX<thread>-<n> with a fixed JSON body of SIZE bytes, n counting up
--           hot: GET PREFIX (one key, again and again)
--           cold: GET every key of KEYFILE (one path a line) once, split between threads;
--                 the thread stops when its share is answered
--   AUTH    the Authorization header's value, or "-" for none
--   THREADS wrk's -t, so that each thread takes its own share of KEYFILE
-- wrk calls request() once before the run to see whether it may pipeline; in cold mode that
-- call takes the thread's first key, which the thread then asks for last.
-- Status codes are counted per thread; done() prints them with wrk's own figures.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
  int clock_gettime(int clk_id, wrk_timespec *tp);
]]
local clock = ffi.new("wrk_timespec")

local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local mode, prefix, headers, body
local counter = 0
local keys = {}
local answered = 0
local statuses = {}
first_us = 0
last_us = 0
stopped = false
status_counts = statuses

function init(args)
  mode, prefix = args[1], args[2]
  headers = {}
  if args[3] ~= "-" then
    headers["Authorization"] = args[3]
  end
  if mode == "put" then
    local size = tonumber(args[4])
    local head = '{"pad":"'
    body = head .. string.rep("x", size - #head - 2) .. '"}'
    headers["Content-Type"] = "application/json"
  elseif mode == "cold" then
    local threads = tonumber(args[6])
    local n = 0
    for line in io.lines(args[5]) do
      if n % threads == id then
        table.insert(keys, line)
      end
      n = n + 1
    end
  end
end

function request()
  if first_us == 0 then
    first_us = now_us()
  end
  counter = counter + 1
  if mode == "put" then
    return wrk.format("PUT", prefix .. id .. "-" .. counter, headers, body)
  elseif mode == "cold" then
    -- Past the end (connections still asking while the last answers come in) the
    -- first keys are asked again; the thread stops before those answers count.
    local key = keys[(counter - 1) % #keys + 1]
    return wrk.format("GET", key, headers)
  end
  return wrk.format("GET", prefix, headers)
end

function response(status, _headers, _body)
  local name = tostring(status)
  statuses[name] = (statuses[name] or 0) + 1
  answered = answered + 1
  last_us = now_us()
  if mode == "cold" and not stopped and answered >= #keys then
    stopped = true
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local counts = {}
  local first, last = nil, 0
  local any_stopped = false
  for _, t in ipairs(threads) do
    for name, n in pairs(t:get("status_counts")) do
      counts[name] = (counts[name] or 0) + n
    end
    local f, l = t:get("first_us"), t:get("last_us")
    if f > 0 and (first == nil or f < first) then
      first = f
    end
    if l > last then
      last = l
    end
    any_stopped = any_stopped or t:get("stopped")
  end
  local parts = {}
  for name, n in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', name, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{"wrk":{"requests":%d,"duration_us":%d,"active_us":%d,"stopped_early":%s,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"statuses":{%s}}}\n',
    summary.requests, summary.duration, (first and (last - first)) or 0,
    tostring(any_stopped),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")
  ))
end
