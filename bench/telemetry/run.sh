#!/usr/bin/env bash
# Telemetry overhead: json throughput with telemetry off / default / 100% traces / OTel SDK.
# Usage: flock /tmp/peregrine-load.lock bash bench/telemetry/run.sh [seconds] [rounds]
# MODES="off metrics sampler0 default" picks the modes (see server.ts); default: the four below.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10}
ROUNDS=${2:-2}
NODE=node_modules/.bin/node
# Pin like `npm run bench`: the server on core 1, wrk and the OTLP sink on core 0.
PIN_SERVER=() PIN_LOAD=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then PIN_SERVER=(taskset -c 1) PIN_LOAD=(taskset -c 0); fi
free_port() { $NODE -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
SINK_PORT=$(free_port)
PORT=$SINK_PORT "${PIN_LOAD[@]}" $NODE bench/telemetry/sink.ts & SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
sleep 0.5
for round in $(seq "$ROUNDS"); do
  for mode in ${MODES:-off default traces100 otel-sdk}; do
    PORT_SRV=$(free_port)
    # A fresh log: the previous server's "ready" must not pass for this one's.
    rm -f /tmp/peregrine-bench-tel.log
    BENCH_MODE=$mode PORT=$PORT_SRV BENCH_OTLP_URL="http://127.0.0.1:$SINK_PORT/v1/traces" \
      PEREGRINE_LOG_LEVEL=warn "${PIN_SERVER[@]}" $NODE --conditions=development bench/telemetry/server.ts > /tmp/peregrine-bench-tel.log 2>&1 & SRV=$!
    for _ in $(seq 100); do grep -q ready /tmp/peregrine-bench-tel.log 2>/dev/null && break; sleep 0.1; done
    "${PIN_LOAD[@]}" wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT_SRV/json" > /dev/null
    T0=$(awk '{print $14+$15}' /proc/$SRV/stat)
    RPS=$("${PIN_LOAD[@]}" wrk -t1 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$PORT_SRV/json" | tee /tmp/peregrine-bench-wrk.txt | awk '/Requests\/sec/ {print $2}')
    T1=$(awk '{print $14+$15}' /proc/$SRV/stat)
    # The server's CPU time (user + system) per response, in µs: steadier than req/s on a shared machine.
    CPU=$(awk -v t="$((T1 - T0))" -v hz="$(getconf CLK_TCK)" -v rps="$RPS" -v d="$DUR" 'BEGIN { printf "%.1f", t / hz * 1e6 / (rps * d) }')
    P99=$(awk '/ 99%/ {print $2}' /tmp/peregrine-bench-wrk.txt)
    ERR=$(grep -c 'Non-2xx\|Socket errors' /tmp/peregrine-bench-wrk.txt || true)
    kill $SRV; wait $SRV 2>/dev/null || true
    SPANS=$(grep '^spans:' /tmp/peregrine-bench-tel.log | sed 's/^spans: //' || true)
    echo "round=$round mode=$mode rps=$RPS cpu_us_per_req=$CPU p99=$P99 error_lines=$ERR${SPANS:+ $SPANS}"
  done
done
