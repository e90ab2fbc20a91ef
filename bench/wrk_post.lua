-- wrk script for the benchmark's non-stream scenarios.
-- Sends the body in BENCH_BODY as a JSON POST, with one extra header per line of
-- BENCH_HEADERS ("Name: value"), and ends with one line:
--   WRK_RESULT {json: counts, errors, latency percentiles in microseconds}
local body = os.getenv("BENCH_BODY") or "{}"
local extra = os.getenv("BENCH_HEADERS") or ""

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
for line in extra:gmatch("[^\r\n]+") do
  local name, value = line:match("^%s*([^:]-)%s*:%s*(.-)%s*$")
  if name and name ~= "" then wrk.headers[name] = value end
end

local function pct(latency, p) return latency:percentile(p) end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("WRK_RESULT ", string.format(
    '{"requests":%d,"seconds":%.6f,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d},"total_us":{"n":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,' ..
    '"mean":%.1f}}',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status,
    e.timeout, summary.requests, pct(latency, 50), pct(latency, 90), pct(latency, 99),
    latency.max, latency.mean), "\n")
end
