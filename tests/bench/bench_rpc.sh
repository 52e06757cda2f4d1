#!/usr/bin/env bash
# Unary RPC throughput without and with rpctrace (bench_rpc.c): runs
# bench_rpc_plain and bench_rpc_traced alternately in one session, REPS
# times each, and prints every run's RPC/s (and process CPU time per RPC),
# the medians and the ratio traced/plain of the medians; then the
# allocations per RPC of each program (malloc counted in the whole process)
# and their difference.
#
#   tests/bench/bench_rpc.sh [-c CLIENTS] [-s SERVER_THREADS] [-d SECONDS]
#                            [-w WARMUP_SECONDS] [-r REPS] [-p PAYLOAD] [-u]
#                            BUILD_DIR
#
# Defaults: 2 client threads, 2 server threads, 3 s measured after 1 s of
# warm-up, 5 repetitions, 32-byte messages. -u: unregistered method calls.
# Build with the Release type for figures:
#   cmake -S . -B /tmp/bench-rel -DCMAKE_BUILD_TYPE=Release
#   cmake --build /tmp/bench-rel -j2 --target bench_rpc_plain bench_rpc_traced
#   bash tests/bench/bench_rpc.sh /tmp/bench-rel
#
# The order alternates (plain first in odd repetitions, traced first in even
# ones) so a drift of the machine's load over the session weighs on both.
# OTEL_* and RPCTRACE_* variables are cleared for the runs: the traced
# figure is for rpctrace's defaults. Exit status: 0, or 1 when a run failed
# (an RPC failed, or the traced program did not receive 2 spans per RPC).
set -u

clients=2 server_threads=2 duration=3 warmup=1 reps=5 payload=32 extra=()
usage() {
  echo "usage: $0 [-c CLIENTS] [-s SERVER_THREADS] [-d SECONDS] [-w WARMUP] [-r REPS] [-p PAYLOAD] [-u] BUILD_DIR" >&2
  exit 2
}
while getopts c:s:d:w:r:p:uh opt; do
  case $opt in
    c) clients=$OPTARG ;;
    s) server_threads=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    r) reps=$OPTARG ;;
    p) payload=$OPTARG ;;
    u) extra=(--unregistered) ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
case $reps in '' | *[!0-9]* | 0) echo "bench_rpc.sh: -r wants a positive integer" >&2; exit 2 ;; esac

build=$1
plain=$build/tests/bench/bench_rpc_plain
traced=$build/tests/bench/bench_rpc_traced
for b in "$plain" "$traced"; do
  if [ ! -x "$b" ]; then
    echo "bench_rpc.sh: $b not found; build the targets bench_rpc_plain and bench_rpc_traced" >&2
    exit 2
  fi
done

cleared=
for v in $(env | sed -n 's/^\(\(OTEL\|RPCTRACE\)_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$v"
  cleared="$cleared $v"
done

args=(--clients "$clients" --server-threads "$server_threads" --duration "$duration"
      --warmup "$warmup" --payload "$payload" "${extra[@]}")
# A hung run is killed: warm-up + duration + a minute for start and stop.
limit=$(awk -v w="$warmup" -v d="$duration" 'BEGIN { printf "%d", w + d + 60 }')

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
echo "bench_rpc: unary RPC throughput, gRPC core alone (plain) vs linked with rpctrace::wrap (traced)"
echo "date $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(uname -srm); nproc $(nproc); build type ${build_type:-unknown}"
echo "load average at start: $(loadavg)"
echo "NOTE: this machine is shared and noisy: other jobs run on its $(nproc) cores during the runs,"
echo "      so single runs vary; compare the medians, and the ratio of the medians of this session only."
[ -n "$cleared" ] && echo "cleared for the runs:$cleared"
echo "each run: ${clients} client thread(s), ${server_threads} server thread(s), ${payload}-byte messages, ${warmup} s warm-up, ${duration} s measured${extra[0]:+, unregistered method}"
if [ "$build_type" != Release ]; then
  echo "WARNING: the build type is not Release; figures are not comparable with Release ones"
fi
echo

failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run NAME BINARY [ARGS...]: one run; prints its line; sets $rate and $cpu.
run() {
  local name=$1 bin=$2
  shift 2
  timeout "$limit" "$bin" "${args[@]}" "$@" >"$out" 2>&1
  local rc=$?
  rate=$(sed -n 's/^RPC\/s: \([0-9.]*\) .*/\1/p' "$out")
  cpu=$(sed -n 's/^CPU us\/RPC: \([0-9.]*\) .*/\1/p' "$out")
  if [ -z "$rate" ] || [ -z "$cpu" ]; then
    echo "bench_rpc.sh: $name run failed (exit $rc):" >&2
    cat "$out" >&2
    exit 1
  fi
  local note=
  if [ "$rc" -ne 0 ]; then
    note="  FAILED (exit $rc): $(grep -m1 -e MISMATCH -e 'failed' "$out")"
    failed=1
  fi
  local spans
  spans=$(sed -n 's/^spans received by the exporter: \([0-9]*\) .* = \([0-9]*\): \([A-Za-z]*\)$/\1 spans, want \2: \3/p' "$out")
  printf "  %-7s %10.1f RPC/s %8.2f CPU us/RPC   %s%s\n" "$name" "$rate" "$cpu" "${spans:+($spans)}" "$note"
}

plain_rates=() traced_rates=() plain_cpu=() traced_cpu=() pair_ratios=()
echo "runs (RPC/s over the measured window; process CPU time per RPC; traced: spans the"
echo "discarding exporter received):"
for ((i = 1; i <= reps; i++)); do
  echo " repetition $i/$reps"
  if ((i % 2)); then
    run plain "$plain"; p=$rate pc=$cpu
    run traced "$traced"; t=$rate tc=$cpu
  else
    run traced "$traced"; t=$rate tc=$cpu
    run plain "$plain"; p=$rate pc=$cpu
  fi
  plain_rates+=("$p") traced_rates+=("$t") plain_cpu+=("$pc") traced_cpu+=("$tc")
  pair_ratios+=("$(awk -v t="$t" -v p="$p" 'BEGIN { printf "%.3f", t / p }')")
done

summary() { # NAME VALUES...: median (min, max)
  local name=$1
  shift
  local m lo hi
  m=$(printf '%s\n' "$@" | median)
  lo=$(printf '%s\n' "$@" | sort -g | head -1)
  hi=$(printf '%s\n' "$@" | sort -g | tail -1)
  printf "  %-22s median %10.2f   (min %.2f, max %.2f; runs: %s)\n" "$name" "$m" "$lo" "$hi" "$*"
}
pm=$(printf '%s\n' "${plain_rates[@]}" | median)
tm=$(printf '%s\n' "${traced_rates[@]}" | median)
pcm=$(printf '%s\n' "${plain_cpu[@]}" | median)
tcm=$(printf '%s\n' "${traced_cpu[@]}" | median)
echo
summary "plain RPC/s" "${plain_rates[@]}"
summary "traced RPC/s" "${traced_rates[@]}"
summary "plain CPU us/RPC" "${plain_cpu[@]}"
summary "traced CPU us/RPC" "${traced_cpu[@]}"
echo "  traced/plain RPC/s within each repetition: ${pair_ratios[*]}"
awk -v t="$tm" -v p="$pm" -v n="$reps" 'BEGIN {
  printf "RATIO traced/plain of the median RPC/s: %.3f (%d runs each; DESIGN.md target: >= 0.97)\n", t / p, n }'
awk -v t="$tcm" -v p="$pcm" 'BEGIN {
  printf "CPU per RPC, traced/plain of the medians: %.3f (%+.2f us per RPC)\n", t / p, t - p }'

# Allocations: one counting run of each program, the same load. The third
# run, gRPC alone sending a traceparent header of its own, splits the
# difference into gRPC's cost of carrying one more header and rpctrace's.
echo
echo "allocations per RPC (malloc, calloc, realloc, memalign calls of the whole process over the"
echo "measured window / RPCs in it; these runs' RPC/s are not throughput figures):"
# allocs BINARY [ARGS...]: one counting run; sets $per_rpc.
allocs() {
  timeout "$limit" "$@" "${args[@]}" --count-allocs >"$out" 2>&1
  local rc=$?
  per_rpc=$(sed -n 's/^allocations per RPC: \([0-9.]*\) .*/\1/p' "$out")
  if [ -z "$per_rpc" ] || [ "$rc" -ne 0 ]; then
    echo "bench_rpc.sh: counting run of $1 failed (exit $rc):" >&2
    cat "$out" >&2
    failed=1
  fi
  per_rpc=${per_rpc:-nan}
}
allocs "$plain"; ap=$per_rpc
allocs "$traced"; at=$per_rpc
allocs "$plain" --send-traceparent; ah=$per_rpc
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
printf "  plain                                          %6.2f\n" "$ap"
printf "  traced                                         %6.2f\n" "$at"
printf "  difference traced - plain                      %6.2f per RPC (DESIGN.md target: 0)\n" "$(minus "$at" "$ap")"
printf "    gRPC carrying one more request header        %6.2f (plain sending a traceparent of its own: %.2f)\n" \
  "$(minus "$ah" "$ap")" "$ah"
printf "    the rest: allocations on rpctrace's path     %6.2f (traced - plain with that header)\n" \
  "$(minus "$at" "$ah")"

echo
echo "load average at end: $(loadavg)"
exit $failed
