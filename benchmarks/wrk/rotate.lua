-- wrk script for benchmarks/bench_web.py: each connection's requests cycle through the paths listed in the
-- file $NW_PATHS (one per line) with the API token $NW_TOKEN, and the run ends by printing one JSON line
-- with the request count and the latency percentiles (microseconds). With $NW_NO_CACHE set (non-empty), every
-- request says "Cache-Control: no-cache": the server computes every answer.
local paths = {}
local next_index = 1

function init(args)
  for line in io.lines(os.getenv("NW_PATHS")) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("NW_TOKEN")
  if (os.getenv("NW_NO_CACHE") or "") ~= "" then wrk.headers["Cache-Control"] = "no-cache" end
  math.randomseed(os.time() + #paths)
  next_index = math.random(#paths)  -- the two threads start at different places
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
