#!/usr/bin/env bash
# `make bench`: builds the benchmarks in a Release tree of their own and runs
# them all, one stage after another, each stage's full output in a log
# file; prints a progress line per stage and ends with the figures as
# `name=value` lines (also written to BUILD/bench-results/results.txt).
# Programs that print figures, not tests: nothing here passes or fails on a
# figure; a stage fails only when a run itself failed (an RPC failed, spans
# went missing, a tool is absent).
#
#   scripts/bench.sh [--quick] [BUILD_DIR]     (default BUILD_DIR: build-bench)
#
# Stages (tests/bench/*): build; npm packages of tests/bench/node;
# micro-benchmarks (bench_micro, bench_export); callgrind instructions per
# RPC (bench_callgrind.sh); loopback ping-pong at 1 and at 8 outstanding
# RPCs with allocation counts (bench_rpc.sh); the Node peer (bench_node.sh);
# the latency plot (plot_latency.js). About 11 minutes on 2 cores.
#
# Environment: BENCH_REPS (7) repetitions of each ping-pong variant,
# BENCH_SECONDS (2) measured per run (after 0.5 s of warm-up; 1 s for Node), BENCH_PNG (a path the latency plot is
# copied to, e.g. docs/perf-latency.png; unset: only in the results folder).
# --quick: 1 repetition of 1 s and short callgrind runs, to check the
# harness; its figures are not worth recording.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0 build=
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -*) echo "usage: scripts/bench.sh [--quick] [BUILD_DIR]" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
build=${build:-build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
# Many short runs rather than a few long ones: on a shared machine the load
# comes in bursts, and a median of more runs is less at their mercy.
reps=${BENCH_REPS:-7} secs=${BENCH_SECONDS:-2} warm=0.5 node_warm=1 cg=(-1 500 -2 2000) micro_q=()
if ((quick)); then
  reps=1 secs=1 warm=0.5 node_warm=0.5 cg=(-1 100 -2 300 -q) micro_q=(--quick)
fi
out=$build/bench-results
bench=$build/tests/bench
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
nstages=8 stage=0

progress() { # TEXT
  stage=$((stage + 1))
  local el=$(($(date +%s) - t_start))
  printf '[bench %d/%d  %2d:%02d] %s\n' "$stage" "$nstages" $((el / 60)) $((el % 60)) "$1"
}
fail() { # LOG MESSAGE
  echo "bench: $2; the end of $1:" >&2
  tail -25 "$1" >&2
  exit 1
}
# results LOG: append its RESULT lines to the collected figures.
results() { sed -n 's/^RESULT //p' "$1" >>"$out/results.raw"; }
get() { sed -n "s/^$1=//p" "$out/results.raw" | tail -1; }

sink_pid=
cleanup() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; fi
}
trap cleanup EXIT

mkdir -p "$out"
rm -f "$out/results.raw" "$out"/*.log
echo "bench: rpctrace benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores," \
  "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); kernel $(uname -r)"
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg); build tree $build; logs in $out"
((quick)) && echo "bench: --quick: checking the harness; these figures are not worth recording"

# ---- 1. build ----
progress "build: cmake Release tree $build (bench targets only)"
log=$out/1-build.log
{
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$build" -j"$(nproc)" --target bench_rpc_plain bench_rpc_traced bench_otlp_sink \
      bench_micro bench_export
} >"$log" 2>&1 || fail "$log" "the build failed"

# ---- 2. npm ----
progress "npm: the Node peer's packages (tests/bench/node, from its package-lock.json)"
log=$out/2-npm.log
bash "$root/scripts/npm-install.sh" tests/bench/node >"$log" 2>&1 || fail "$log" "npm install failed"

# ---- 3. micro ----
progress "micro: traceparent, span record, export thread CPU (bench_micro), enqueue and OTLP encode (bench_export)"
log=$out/3-micro.log
"$bench/bench_otlp_sink" >"$out/sink.out" 2>&1 &
sink_pid=$!
endpoint=
for _ in $(seq 100); do
  endpoint=$(sed -n 's/^bench_otlp_sink: listening on //p' "$out/sink.out")
  [ -n "$endpoint" ] && break
  sleep 0.1
done
[ -n "$endpoint" ] || fail "$out/sink.out" "bench_otlp_sink did not start"
{
  env -u OTEL_EXPORTER_OTLP_ENDPOINT "$bench/bench_micro" "${micro_q[@]}" --otlp-endpoint "$endpoint" &&
    echo && "$bench/bench_export" "${micro_q[@]}"
} >"$log" 2>&1 || fail "$log" "a micro-benchmark failed"
kill "$sink_pid" 2>/dev/null
wait "$sink_pid" 2>/dev/null
sink_pid=
results "$log"
echo "        parse $(get traceparent_parse_ns) ns, format $(get traceparent_format_ns) ns, span record" \
  "$(get span_record_ns) ns, encode $(get otlp_encode_spans_per_s) spans/s, export thread" \
  "$(get export_thread_cpu_pct_at_10k)% at 10k spans/s"

# ---- 4. callgrind ----
progress "callgrind: instructions per RPC, plain / plain+header / traced, two-length difference"
log=$out/4-callgrind.log
bash "$root/tests/bench/bench_callgrind.sh" "${cg[@]}" "$build" "$out/callgrind" >"$log" 2>&1 ||
  fail "$log" "the callgrind runs failed"
results "$log"
echo "        plain $(get instructions_per_rpc_plain), traced $(get instructions_per_rpc_traced):" \
  "+$(get instructions_added_per_rpc) per RPC; diff by function: $(get callgrind_diff_file)"

# ---- 5. ping-pong, 1 outstanding RPC ----
progress "ping-pong c1: 1 client thread, 1 server thread; plain, header, unsampled, sampled, otlp x $reps; allocations"
log=$out/5-pingpong-c1.log
bash "$root/tests/bench/bench_rpc.sh" -c 1 -s 1 -d "$secs" -w "$warm" -r "$reps" \
  -v plain,header,unsampled,sampled,otlp -k c1 -l "$out/latency" -a "$build" >"$log" 2>&1 ||
  fail "$log" "a c1 ping-pong run failed"
results "$log"
echo "        sampled/plain $(get unary_qps_ratio_sampled_c1), unsampled/plain $(get unary_qps_ratio_unsampled_c1)," \
  "sampled/header $(get unary_qps_ratio_sampled_vs_header_c1), otlp/plain $(get unary_qps_ratio_otlp_c1)"

# ---- 6. ping-pong, 8 outstanding RPCs ----
progress "ping-pong c8: 8 client threads, 2 server threads; plain, header, unsampled, sampled, otlp x $reps"
log=$out/6-pingpong-c8.log
bash "$root/tests/bench/bench_rpc.sh" -c 8 -s 2 -d "$secs" -w "$warm" -r "$reps" \
  -v plain,header,unsampled,sampled,otlp -k c8 "$build" >"$log" 2>&1 ||
  fail "$log" "a c8 ping-pong run failed"
results "$log"
echo "        sampled/plain $(get unary_qps_ratio_sampled_c8), unsampled/plain $(get unary_qps_ratio_unsampled_c8)," \
  "sampled/header $(get unary_qps_ratio_sampled_vs_header_c8), otlp/plain $(get unary_qps_ratio_otlp_c8)"

# ---- 7. the Node peer ----
progress "node: @grpc/grpc-js without and with @opentelemetry/instrumentation-grpc, c1 and c8 x $reps"
log=$out/7-node.log
{
  bash "$root/tests/bench/bench_node.sh" -o 1 -d "$secs" -w "$node_warm" -r "$reps" -k c1 &&
    bash "$root/tests/bench/bench_node.sh" -o 8 -d "$secs" -w "$node_warm" -r "$reps" -k c8
} >"$log" 2>&1 || fail "$log" "a Node run failed"
results "$log"
echo "        node sampled/untraced c1 $(get node_qps_ratio_sampled_c1), c8 $(get node_qps_ratio_sampled_c8)"

# ---- 8. plot ----
progress "plot: latency distributions at c1 -> $out/perf-latency.png"
log=$out/8-plot.log
note="$(date -u '+%Y-%m-%d'); $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), shared;"
note="$note $reps runs of ${secs} s per variant merged; gRPC core 1.51, Release build; make bench"
chromium=$(command -v chromium || echo chromium)
node "$root/tests/bench/plot_latency.js" --dir "$out/latency" --key c1 --out "$out/perf-latency.png" \
  --note "$note" --chromium "$chromium" >"$log" 2>&1 || fail "$log" "the plot failed"
if [ -n "${BENCH_PNG:-}" ]; then
  case $BENCH_PNG in /*) png=$BENCH_PNG ;; *) png=$root/$BENCH_PNG ;; esac
  cp "$out/perf-latency.png" "$png" && echo "        copied to $png"
fi

# ---- the figures ----
wall=$(($(date +%s) - t_start))
# The allocation figures come from the c1 session; named without the key.
sed -i 's/^\(allocs_[a-z_]*\)_c1=/\1=/' "$out/results.raw"
required="unary_qps_ratio_sampled_c1 unary_qps_ratio_sampled_c8 unary_qps_ratio_unsampled_c1
  unary_qps_ratio_unsampled_c8 unary_qps_ratio_sampled_vs_header_c1 unary_qps_ratio_sampled_vs_header_c8
  unary_qps_ratio_unsampled_vs_header_c1 unary_qps_ratio_unsampled_vs_header_c8
  unary_qps_ratio_otlp_c1 unary_qps_ratio_otlp_c8 unary_qps_ratio_header_c1 unary_qps_ratio_header_c8
  instructions_added_per_rpc traceparent_parse_ns traceparent_format_ns span_record_ns
  allocs_per_traced_rpc allocs_added_grpc_header allocs_added_rpctrace
  otlp_encode_spans_per_s export_thread_cpu_pct_at_10k export_thread_cpu_pct_at_100k
  enqueue_ns_1_producer enqueue_ns_4_producers node_qps_ratio_sampled_c1 node_qps_ratio_sampled_c8"
{
  echo "bench_date=$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo "bench_machine=$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
  if head=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
    # "+uncommitted": the library measured is not exactly that commit's.
    git -C "$root" diff --quiet HEAD -- src interceptors include proto CMakeLists.txt || head="$head+uncommitted"
    echo "bench_git=$head"
  fi
  # Figures of RPC/s and ns vary with what else runs; instruction and
  # allocation counts do not.
  echo "bench_loadavg_start=$load_start"
  echo "bench_loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  ((quick)) && echo "bench_quick=1"
  load_end=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v a="${load_start%% *}" -v b="$load_end" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }'; then
    echo "bench_note=the load average was above the core count: RPC/s, ns and CPU % figures are disturbed; instruction and allocation counts are not"
  fi
  for k in $required; do echo "$k=$(get "$k")"; done
  awk -F= -v req=" $(tr -s ' \n' '  ' <<<"$required") " 'index(req, " " $1 " ") == 0 && !seen[$1]++' "$out/results.raw"
  echo "latency_plot=$out/perf-latency.png"
  echo "bench_wall_s=$wall"
} >"$out/results.txt"
echo
echo "bench: done in $((wall / 60)) min $((wall % 60)) s; logs and figures in $out"
echo
cat "$out/results.txt"
