-- One scenario of bench/http.py for wrk, described by environment variables:
--   BENCH_METHOD   GET (default) or POST
--   BENCH_BODY     the request body; with BENCH_UNIQUE=1 each "{n}" in it becomes a number
--                  unique in the run (a different post text on every request)
--   BENCH_HEADERS  "Name: value" lines (cookies, Content-Type, Authorization)
--   BENCH_EXPECT   the status that counts as success (200, 302, 201...)
--   BENCH_COOKIES  Cookie header values, one per line: each request takes one at random
--                  (many readers, each with a session of their own)
-- At the end it prints one line, "BENCH_JSON {...}": requests, successes (the expected
-- status), other statuses, socket errors and latency percentiles in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local headers_text = os.getenv("BENCH_HEADERS") or ""
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local unique = os.getenv("BENCH_UNIQUE") == "1"
local cookies = {}
for line in (os.getenv("BENCH_COOKIES") or ""):gmatch("[^\n]+") do
  table.insert(cookies, line)
end

wrk.method = method
if body ~= "" then
  wrk.body = body
end
for line in headers_text:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  expected = 0
  unexpected = 0
  other_status = 0
  counter = 0
  math.randomseed(os.time() * 100 + thread_number)
end

if #cookies > 0 then
  function request()
    local headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    headers["Cookie"] = cookies[math.random(#cookies)]
    return wrk.format(nil, nil, headers)
  end
elseif unique then
  function request()
    counter = counter + 1
    local text = (body:gsub("{n}", thread_number .. "x" .. counter))
    return wrk.format(nil, nil, nil, text)
  end
end

function response(status, headers, response_body)
  if status == expect then
    expected = expected + 1
  else
    unexpected = unexpected + 1
    other_status = status
  end
end

function done(summary, latency, requests)
  local good, bad, status = 0, 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("expected")
    bad = bad + thread:get("unexpected")
    if thread:get("other_status") ~= 0 then
      status = thread:get("other_status")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "expected": %d, "unexpected": %d, '
      .. '"unexpected_status": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, '
      .. '"max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, '
      .. '"timeout": %d}}\n',
    summary.requests, summary.duration, good, bad, status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
