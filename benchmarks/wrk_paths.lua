-- wrk script for benchmarks/serve_load.py: every connection walks its own stretch of a file of request paths,
-- so no path repeats until the file is used up, and each request claims one of 5,000 client addresses.
-- Usage: wrk -tN ... -s benchmarks/wrk_paths.lua URL -- PATHS_FILE N
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("index", thread_count)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  -- Thread i of N starts (i - 1)/N of the way through the file.
  position = math.floor((index - 1) * #paths / tonumber(args[2] or 1)) + 1
  non2xx = 0
  math.randomseed(index * 7919)
end

function request()
  local path = paths[position]
  position = position % #paths + 1
  local client = string.format("198.18.%d.%d", math.random(0, 19), math.random(1, 250))
  return wrk.format("GET", path, { ["X-Forwarded-For"] = client, ["Accept"] = "application/json" })
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.3f, "rps": %.2f, "non2xx": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "timeout": %d, "status": %d, "p50_ms": %.1f, "p90_ms": %.1f, "p99_ms": %.1f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), bad,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
