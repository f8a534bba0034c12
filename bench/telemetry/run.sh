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
SERVER_CPU=1
PIN_SERVER=() PIN_LOAD=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then PIN_SERVER=(taskset -c $SERVER_CPU) PIN_LOAD=(taskset -c 0); fi
free_port() { $NODE -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
SINK_PORT=$(free_port)
PORT=$SINK_PORT "${PIN_LOAD[@]}" $NODE bench/telemetry/sink.ts & SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
sleep 0.5
# CPU ticks (user + system) of a process.
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Busy ticks of the server's core (user, nice, system, irq, softirq; not idle, iowait or steal): what the server costs when it
# is pinned, kernel network work included. Per-process ticks miss some of it under
# `peregrine serve` (seen: the worker was charged 160 of the core's 400 busy ticks while the core
# had no idle time), so pinned runs count the core.
core_ticks() { awk -v cpu="cpu$SERVER_CPU" '$1 == cpu {print $2+$3+$4+$7+$8}' /proc/stat; }
# µs of CPU per response from a tick difference.
per_req() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v rps="$RPS" -v d="$DUR" 'BEGIN { printf "%.1f", t / hz * 1e6 / (rps * d) }'; }
for round in $(seq "$ROUNDS"); do
  for mode in ${MODES:-off default traces100 otel-sdk}; do
    PORT_SRV=$(free_port)
    # A fresh log: the previous server's "ready" must not pass for this one's.
    rm -f /tmp/peregrine-bench-tel.log
    WORKER=""
    case $mode in
      serve-*)
        # The pre-fork topology: `peregrine serve --workers 1`, master and worker on the server's
        # core; kept spans cross IPC to the master, which exports them.
        ADMIN=$(free_port)
        ENV=(PEREGRINE_LOG_LEVEL=warn OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT")
        [ "$mode" = serve-off ] && ENV+=(PEREGRINE_TELEMETRY=off)
        [ "$mode" = serve-traces100 ] && ENV+=(OTEL_TRACES_SAMPLER_ARG=1 PEREGRINE_TRACES_BUFFER=1000000 OTEL_BSP_MAX_QUEUE_SIZE=1000000)
        env "${ENV[@]}" "${PIN_SERVER[@]}" $NODE --conditions=peregrine-source bin/peregrine.js serve examples/hello/app.ts --workers 1 \
          --bind "127.0.0.1:$PORT_SRV" --admin "127.0.0.1:$ADMIN" > /tmp/peregrine-bench-tel.log 2>&1 & SRV=$!
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT_SRV/json" > /dev/null 2>&1 && break; sleep 0.1; done
        WORKER=$(pgrep -P "$SRV" | head -1)
        ;;
      *)
        BENCH_MODE=$mode PORT=$PORT_SRV BENCH_OTLP_URL="http://127.0.0.1:$SINK_PORT/v1/traces" \
          PEREGRINE_LOG_LEVEL=warn "${PIN_SERVER[@]}" $NODE --conditions=peregrine-source bench/telemetry/server.ts > /tmp/peregrine-bench-tel.log 2>&1 & SRV=$!
        for _ in $(seq 100); do grep -q ready /tmp/peregrine-bench-tel.log 2>/dev/null && break; sleep 0.1; done
        ;;
    esac
    "${PIN_LOAD[@]}" wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT_SRV/json" > /dev/null
    T0=$(ticks $SRV); W0=0; [ -n "$WORKER" ] && W0=$(ticks "$WORKER")
    C0=$(core_ticks)
    RPS=$("${PIN_LOAD[@]}" wrk -t1 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$PORT_SRV/json" | tee /tmp/peregrine-bench-wrk.txt | awk '/Requests\/sec/ {print $2}')
    T1=$(ticks $SRV); W1=0; [ -n "$WORKER" ] && W1=$(ticks "$WORKER")
    C1=$(core_ticks)
    # The server's CPU time per response, in µs: steadier than req/s on a shared machine. Pinned:
    # the server core's busy time; else the server's processes (master + worker under serve).
    if [ ${#PIN_SERVER[@]} -gt 0 ]; then CPU=$(per_req $((C1 - C0))); else CPU=$(per_req $((T1 - T0 + W1 - W0))); fi
    SPLIT=""
    [ -n "$WORKER" ] && SPLIT=" (charged: worker_us=$(per_req $((W1 - W0))) master_us=$(per_req $((T1 - T0))))"
    P99=$(awk '/ 99%/ {print $2}' /tmp/peregrine-bench-wrk.txt)
    ERR=$(grep -c 'Non-2xx\|Socket errors' /tmp/peregrine-bench-wrk.txt || true)
    SPANS=""
    if [ -n "$WORKER" ]; then
      sleep 1.5 # the last delta
      SPANS=$(curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -F'[{}"]' '/^peregrine_trace_spans_total/ {gsub(/ /, "", $5); printf "%s%s=%s", sep, $3, $5; sep=" "}')
    fi
    kill $SRV; wait $SRV 2>/dev/null || true
    [ -z "$WORKER" ] && SPANS=$(grep '^spans:' /tmp/peregrine-bench-tel.log | sed 's/^spans: //' || true)
    echo "round=$round mode=$mode rps=$RPS cpu_us_per_req=$CPU$SPLIT p99=$P99 error_lines=$ERR${SPANS:+ $SPANS}"
  done
done
