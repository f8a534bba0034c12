-- wrk script of `npm run bench`: optional HTTP/1.1 pipelining and a machine-readable summary.
--
-- BENCH_PIPELINE=N sends N requests back to back on each connection before reading (the
-- TechEmpower plaintext test uses 16). Without it wrk sends its static request, the fastest path.

local depth = tonumber(os.getenv("BENCH_PIPELINE") or "1") or 1

if depth > 1 then
  local batch = nil
  init = function(args)
    local reqs = {}
    for i = 1, depth do
      reqs[i] = wrk.format()
    end
    batch = table.concat(reqs)
  end
  request = function()
    return batch
  end
end

-- One line the runner parses; latencies in microseconds.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
