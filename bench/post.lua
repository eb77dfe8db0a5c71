-- wrk script for the modelport benchmark: POST one JSON body, report a JSON summary.
-- Usage: wrk ... -s bench/post.lua URL -- BODY_FILE
-- The body is read once per thread; no per-response Lua runs, so wrk stays cheap.

function init(args)
  local path = args[1]
  if path == nil then
    error("post.lua needs the body file: wrk ... -s post.lua URL -- BODY_FILE")
  end
  local file = assert(io.open(path, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
    "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"non_2xx_3xx\": %d, \"timeouts\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
    "\"p99_us\": %d, \"mean_us\": %.1f, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
