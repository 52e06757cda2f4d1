#!/usr/bin/env bash
# Unary RPC throughput without and with rpctrace (bench_rpc.c), variants run
# alternately in one session, REPS times each; prints every run's RPC/s
# (and process CPU time per RPC), the medians and the ratios of the
# medians; optionally the allocations per RPC, split.
#
#   tests/bench/bench_rpc.sh [-c CLIENTS] [-s SERVER_THREADS] [-d SECONDS]
#                            [-w WARMUP_SECONDS] [-r REPS] [-p PAYLOAD] [-u]
#                            [-v VARIANTS] [-k KEY] [-l LATENCY_DIR] [-a]
#                            BUILD_DIR
#
# Variants (-v, comma-separated; default plain,header,unsampled,sampled):
#   plain      bench_rpc_plain: gRPC core alone, the baseline
#   header     bench_rpc_plain --send-traceparent: gRPC core alone sending a
#              55-byte traceparent of its own per call, the floor any tracer
#              that propagates context through gRPC core pays
#   unsampled  bench_rpc_traced with OTEL_TRACES_SAMPLER=always_off
#   sampled    bench_rpc_traced, default sampler (parentbased_always_on),
#              batch processor, an exporter that counts and discards
#   otlp       as sampled, exporting over OTLP/gRPC to bench_otlp_sink, a
#              separate process started here that answers and discards
#              (on the same cores: its receive work is in the figure)
# Defaults: 2 client threads, 2 server threads, 3 s measured after 1 s of
# warm-up, 5 repetitions, 32-byte messages. -u: unregistered method calls.
# -k KEY: suffix of the RESULT names (e.g. c1). -l DIR: per-RPC latency
# histograms, merged per variant into DIR/latency-KEY-VARIANT.txt.
# -a: then one allocation-counting run per variant (plain, header,
# unsampled, sampled) and the split of the difference.
#
# Build with the Release type for figures (scripts/bench.sh does it all):
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench -j2 --target bench_rpc_plain bench_rpc_traced bench_otlp_sink
#   bash tests/bench/bench_rpc.sh -c 1 -s 1 build-bench
#
# The order rotates (repetition i starts with the i-th variant) so a drift
# of the machine's load over the session weighs on all. OTEL_* and
# RPCTRACE_* variables are cleared for the runs: the traced figures are for
# rpctrace's defaults. Ends with "RESULT name=value" lines. Exit status: 0,
# or 1 when a run failed (an RPC failed, or the spans exported do not match
# the RPCs made).
set -u

clients=2 server_threads=2 duration=3 warmup=1 reps=5 payload=32 extra=()
variants=plain,header,unsampled,sampled key='' latdir='' do_allocs=0
usage() {
  echo "usage: $0 [-c CLIENTS] [-s SERVER_THREADS] [-d SECONDS] [-w WARMUP] [-r REPS] [-p PAYLOAD] [-u]" >&2
  echo "       [-v VARIANTS] [-k KEY] [-l LATENCY_DIR] [-a] BUILD_DIR" >&2
  exit 2
}
while getopts c:s:d:w:r:p:uv:k:l:ah opt; do
  case $opt in
    c) clients=$OPTARG ;;
    s) server_threads=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    r) reps=$OPTARG ;;
    p) payload=$OPTARG ;;
    u) extra=(--unregistered) ;;
    v) variants=$OPTARG ;;
    k) key=$OPTARG ;;
    l) latdir=$OPTARG ;;
    a) do_allocs=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
case $reps in '' | *[!0-9]* | 0) echo "bench_rpc.sh: -r wants a positive integer" >&2; exit 2 ;; esac
IFS=, read -r -a vlist <<<"$variants"
for v in "${vlist[@]}"; do
  case $v in plain | header | unsampled | sampled | otlp) ;; *) echo "bench_rpc.sh: unknown variant $v" >&2; exit 2 ;; esac
done
case ",$variants," in *,plain,*) ;; *) echo "bench_rpc.sh: the variants must include plain" >&2; exit 2 ;; esac
sfx=${key:+_$key}

build=$1
plain=$build/tests/bench/bench_rpc_plain
traced=$build/tests/bench/bench_rpc_traced
sink=$build/tests/bench/bench_otlp_sink
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
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
echo "bench_rpc: unary RPC ping-pong, gRPC core alone vs linked with rpctrace::wrap${key:+ [$key]}"
echo "date $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(uname -srm); nproc $(nproc); build type ${build_type:-unknown}"
echo "load average at start: $(loadavg)"
echo "NOTE: on a shared, busy machine single runs vary; compare the medians, and the ratio of"
echo "      the medians of this session only."
[ -n "$cleared" ] && echo "cleared for the runs:$cleared"
echo "each run: ${clients} client thread(s) with 1 RPC outstanding each, ${server_threads} server thread(s),"
echo "  ${payload}-byte messages, ${warmup} s warm-up, ${duration} s measured${extra[0]:+, unregistered method}; variants: $variants"
if [ "$build_type" != Release ]; then
  echo "WARNING: the build type is not Release; figures are not comparable with Release ones"
fi

tmp=$(mktemp -d)
sink_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
out=$tmp/run.out

endpoint=
case ",$variants," in
  *,otlp,*)
    [ -x "$sink" ] || { echo "bench_rpc.sh: $sink not found; build the target bench_otlp_sink" >&2; exit 2; }
    "$sink" >"$tmp/sink.out" 2>&1 &
    sink_pid=$!
    for _ in $(seq 50); do
      endpoint=$(sed -n 's/^bench_otlp_sink: listening on //p' "$tmp/sink.out")
      [ -n "$endpoint" ] && break
      sleep 0.1
    done
    [ -n "$endpoint" ] || { echo "bench_rpc.sh: bench_otlp_sink did not start:" >&2; cat "$tmp/sink.out" >&2; exit 1; }
    echo "otlp: exporting to bench_otlp_sink (pid $sink_pid) on $endpoint"
    ;;
esac
[ -n "$latdir" ] && mkdir -p "$latdir"
echo

failed=0 dropped_any=0
# run VARIANT REP: one run; prints its line; sets $rate and $cpu.
run() {
  local v=$1 rep=$2 cmd env_=()
  case $v in
    plain) cmd=("$plain") ;;
    header) cmd=("$plain" --send-traceparent) ;;
    unsampled) cmd=("$traced") env_=(OTEL_TRACES_SAMPLER=always_off) ;;
    sampled) cmd=("$traced") ;;
    otlp) cmd=("$traced" --exporter otlp --otlp-endpoint "$endpoint") ;;
  esac
  local lat=()
  [ -n "$latdir" ] && lat=(--latency-out "$tmp/lat.$v.$rep")
  env "${env_[@]}" timeout "$limit" "${cmd[@]}" "${args[@]}" "${lat[@]}" >"$out" 2>&1
  local rc=$?
  rate=$(sed -n 's/^RPC\/s: \([0-9.]*\) .*/\1/p' "$out")
  cpu=$(sed -n 's/^CPU us\/RPC: \([0-9.]*\) .*/\1/p' "$out")
  if [ -z "$rate" ] || [ -z "$cpu" ]; then
    echo "bench_rpc.sh: $v run failed (exit $rc):" >&2
    cat "$out" >&2
    exit 1
  fi
  local note=
  if [ "$rc" -ne 0 ]; then
    note="  FAILED (exit $rc): $(grep -m1 -e MISMATCH -e 'failed' "$out")"
    failed=1
  fi
  local spans dropped
  spans=$(sed -n 's/^spans \(received by the exporter\|exported over OTLP\/gRPC\): \([0-9]*\) .*want \([0-9]*\): \([A-Za-z]*\)$/\2 spans, want \3: \4/p' "$out")
  dropped=$(sed -n 's/^WARNING: \([0-9]*\) spans dropped.*/\1/p' "$out")
  if [ -n "$dropped" ]; then
    note="$note  DROPPED $dropped spans (queue full)"
    dropped_any=1
  fi
  printf "  %-9s %10.1f RPC/s %8.2f CPU us/RPC   %s%s\n" "$v" "$rate" "$cpu" "${spans:+($spans)}" "$note"
}

declare -A rates cpus
pair_ratios=()
echo "runs (RPC/s over the measured window; process CPU time per RPC, all threads; traced: spans"
echo "exported, want 2 per RPC when sampled, 0 when not):"
nv=${#vlist[@]}
for ((i = 1; i <= reps; i++)); do
  echo " repetition $i/$reps"
  for ((j = 0; j < nv; j++)); do
    v=${vlist[$(((i - 1 + j) % nv))]}
    run "$v" "$i"
    rates[$v]="${rates[$v]:-} $rate"
    cpus[$v]="${cpus[$v]:-} $cpu"
  done
done

declare -A med_rate med_cpu
summary() { # NAME VALUES...: median (min, max)
  local name=$1
  shift
  local m lo hi
  m=$(printf '%s\n' "$@" | median)
  lo=$(printf '%s\n' "$@" | sort -g | head -1)
  hi=$(printf '%s\n' "$@" | sort -g | tail -1)
  printf "  %-24s median %10.2f   (min %.2f, max %.2f)\n" "$name" "$m" "$lo" "$hi"
}
echo
for v in "${vlist[@]}"; do
  # shellcheck disable=SC2086 # word lists
  med_rate[$v]=$(printf '%s\n' ${rates[$v]} | median)
  # shellcheck disable=SC2086
  med_cpu[$v]=$(printf '%s\n' ${cpus[$v]} | median)
  # shellcheck disable=SC2086
  summary "$v RPC/s" ${rates[$v]}
done
for v in "${vlist[@]}"; do
  # shellcheck disable=SC2086
  summary "$v CPU us/RPC" ${cpus[$v]}
done
echo
echo "ratios of the medians (RPC/s, traced/untraced; >= 0.97 sampled and >= 0.99 unsampled is the target):"
printf "  %-10s %12s %18s %14s\n" "" "to plain" "to plain+header" "CPU/RPC ratio"
for v in "${vlist[@]}"; do
  [ "$v" = plain ] && continue
  to_hdr=-
  if [ -n "${med_rate[header]:-}" ] && [ "$v" != header ]; then to_hdr=$(ratio "${med_rate[$v]}" "${med_rate[header]}"); fi
  printf "  %-10s %12s %18s %14s\n" "$v" "$(ratio "${med_rate[$v]}" "${med_rate[plain]}")" "$to_hdr" \
    "$(ratio "${med_cpu[$v]}" "${med_cpu[plain]}")"
done
if [ -n "${rates[sampled]:-}" ]; then
  # shellcheck disable=SC2206
  p=(${rates[plain]}) t=(${rates[sampled]})
  for ((i = 0; i < reps; i++)); do pair_ratios+=("$(ratio "${t[$i]}" "${p[$i]}")"); done
  echo "  sampled/plain within each repetition: ${pair_ratios[*]}"
fi
((dropped_any)) && echo "WARNING: some traced runs dropped spans (queue full); their figures flatter tracing"

# Latency: the runs' histograms summed per variant.
declare -A lat_q
if [ -n "$latdir" ]; then
  echo
  echo "latency per RPC over all repetitions (us; from the merged histograms, 6% buckets):"
  printf "  %-10s %9s %9s %9s %9s %10s\n" "" p50 p90 p99 p99.9 RPCs
  for v in "${vlist[@]}"; do
    merged=$latdir/latency-${key:-run}-$v.txt
    cat "$tmp"/lat."$v".* | awk '
      /^#/ { next }
      { lo[$1] = $1; hi[$1] = $2; n[$1] += $3 }
      END { for (k in n) printf "%s %s %s\n", lo[k], hi[k], n[k] }' | sort -n >"$merged.body"
    { echo "# bench_rpc latency histogram, $v${key:+ [$key]}, $reps runs merged: LOW_NS HIGH_NS COUNT"; cat "$merged.body"; } >"$merged"
    rm -f "$merged.body"
    q=$(awk '!/^#/ { lo[NR] = $1; hi[NR] = $2; c[NR] = $3; tot += $3; n = NR }
      function at(p,   i, s, r) { r = int(p * tot); if (r >= tot) r = tot - 1
        for (i = 1; i <= n; i++) { s += c[i]; if (s > r) return (lo[i] + hi[i]) / 2 / 1000 } }
      END { printf "%.1f %.1f %.1f %.1f %d", at(0.5), at(0.9), at(0.99), at(0.999), tot }' "$merged")
    read -r q50 q90 q99 q999 qn <<<"$q"
    lat_q[$v]="$q50 $q99 $q999"
    printf "  %-10s %9s %9s %9s %9s %10s\n" "$v" "$q50" "$q90" "$q99" "$q999" "$qn"
  done
  echo "  histograms: $latdir/latency-${key:-run}-*.txt"
fi

# Allocations: one counting run of each program, the same load. The run of
# gRPC alone sending a traceparent header of its own splits the difference
# into gRPC's cost of carrying one more header and rpctrace's.
declare -A allocs
if ((do_allocs)); then
  echo
  echo "allocations per RPC (malloc, calloc, realloc, memalign calls of the whole process over the"
  echo "measured window / RPCs in it; these runs' RPC/s are not throughput figures):"
  # count VARIANT: one counting run; sets allocs[VARIANT].
  count() {
    local cmd env_=()
    case $1 in
      plain) cmd=("$plain") ;;
      header) cmd=("$plain" --send-traceparent) ;;
      unsampled) cmd=("$traced") env_=(OTEL_TRACES_SAMPLER=always_off) ;;
      sampled) cmd=("$traced") ;;
    esac
    env "${env_[@]}" timeout "$limit" "${cmd[@]}" "${args[@]}" --count-allocs >"$out" 2>&1
    local rc=$?
    local per_rpc
    per_rpc=$(sed -n 's/^allocations per RPC: \([0-9.]*\) .*/\1/p' "$out")
    if [ -z "$per_rpc" ] || [ "$rc" -ne 0 ]; then
      echo "bench_rpc.sh: counting run of $1 failed (exit $rc):" >&2
      cat "$out" >&2
      failed=1
    fi
    allocs[$1]=${per_rpc:-nan}
  }
  for v in plain header unsampled sampled; do count "$v"; done
  minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
  printf "  plain                                          %6.2f\n" "${allocs[plain]}"
  printf "  plain sending a traceparent of its own         %6.2f\n" "${allocs[header]}"
  printf "  traced, unsampled                              %6.2f\n" "${allocs[unsampled]}"
  printf "  traced, sampled                                %6.2f\n" "${allocs[sampled]}"
  printf "  difference sampled - plain                     %6.2f per RPC (target: no more than the header's)\n" \
    "$(minus "${allocs[sampled]}" "${allocs[plain]}")"
  printf "    gRPC carrying one more request header        %6.2f (plain with header - plain)\n" \
    "$(minus "${allocs[header]}" "${allocs[plain]}")"
  printf "    the rest: allocations on rpctrace's path     %6.2f (sampled - plain with header; target 0)\n" \
    "$(minus "${allocs[sampled]}" "${allocs[header]}")"
  printf "  difference unsampled - plain                   %6.2f per RPC\n" \
    "$(minus "${allocs[unsampled]}" "${allocs[plain]}")"
fi

echo
echo "load average at end: $(loadavg)"
if [ -n "$sink_pid" ]; then
  kill "$sink_pid" 2>/dev/null
  wait "$sink_pid" 2>/dev/null
  sink_pid=
  sed -n 's/^bench_otlp_sink: \([0-9]* requests.*\)/otlp sink: \1/p' "$tmp/sink.out"
fi

for v in "${vlist[@]}"; do
  echo "RESULT unary_qps_${v}${sfx}=${med_rate[$v]}"
  echo "RESULT unary_cpu_us_per_rpc_${v}${sfx}=${med_cpu[$v]}"
done
for v in "${vlist[@]}"; do
  [ "$v" = plain ] && continue
  echo "RESULT unary_qps_ratio_${v}${sfx}=$(ratio "${med_rate[$v]}" "${med_rate[plain]}")"
  echo "RESULT unary_cpu_ratio_${v}${sfx}=$(ratio "${med_cpu[$v]}" "${med_cpu[plain]}")"
  if [ -n "${med_rate[header]:-}" ] && [ "$v" != header ]; then
    echo "RESULT unary_qps_ratio_${v}_vs_header${sfx}=$(ratio "${med_rate[$v]}" "${med_rate[header]}")"
  fi
done
for v in "${!lat_q[@]}"; do
  read -r q50 q99 q999 <<<"${lat_q[$v]}"
  echo "RESULT latency_p50_us_${v}${sfx}=$q50"
  echo "RESULT latency_p99_us_${v}${sfx}=$q99"
done
if ((do_allocs)); then
  for v in plain header unsampled sampled; do echo "RESULT allocs_per_rpc_${v}${sfx}=${allocs[$v]}"; done
  echo "RESULT allocs_per_traced_rpc${sfx}=$(minus "${allocs[sampled]}" "${allocs[plain]}")"
  echo "RESULT allocs_added_grpc_header${sfx}=$(minus "${allocs[header]}" "${allocs[plain]}")"
  echo "RESULT allocs_added_rpctrace${sfx}=$(minus "${allocs[sampled]}" "${allocs[header]}")"
  echo "RESULT allocs_added_unsampled${sfx}=$(minus "${allocs[unsampled]}" "${allocs[plain]}")"
fi
echo "RESULT unary_spans_dropped${sfx}=$dropped_any"
exit $failed
