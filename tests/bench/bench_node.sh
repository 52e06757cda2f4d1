#!/usr/bin/env bash
# The Node.js peer of bench_rpc.sh: @grpc/grpc-js unary ping-pong
# (tests/bench/node/bench_grpc.js) untraced and traced with
# @opentelemetry/instrumentation-grpc (sampled, BatchSpanProcessor, an
# exporter that discards), alternately, REPS times each; prints every run,
# the medians and the ratio traced/untraced of the medians.
#
#   tests/bench/bench_node.sh [-o OUTSTANDING] [-d SECONDS] [-w WARMUP]
#                             [-r REPS] [-p PAYLOAD] [-k KEY]
#
# Defaults: 1 outstanding RPC, 3 s measured after 1 s of warm-up, 5
# repetitions, 32-byte messages. The packages are those of
# tests/bench/node/package-lock.json (scripts/npm-install.sh
# tests/bench/node installs them). Ends with "RESULT name=value" lines
# (node_qps_untraced_KEY, node_qps_sampled_KEY, node_qps_ratio_sampled_KEY,
# node_cpu_ratio_sampled_KEY). Exit status 0, or 1 when a run failed.
set -u

outstanding=1 duration=3 warmup=1 reps=5 payload=32 key=
usage() {
  echo "usage: $0 [-o OUTSTANDING] [-d SECONDS] [-w WARMUP] [-r REPS] [-p PAYLOAD] [-k KEY]" >&2
  exit 2
}
while getopts o:d:w:r:p:k:h opt; do
  case $opt in
    o) outstanding=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    r) reps=$OPTARG ;;
    p) payload=$OPTARG ;;
    k) key=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
sfx=${key:+_$key}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
js=$here/node/bench_grpc.js
if [ ! -d "$here/node/node_modules/@opentelemetry/instrumentation-grpc" ]; then
  echo "bench_node.sh: run scripts/npm-install.sh tests/bench/node first" >&2
  exit 2
fi
command -v node >/dev/null || { echo "bench_node.sh: node not found" >&2; exit 2; }

for v in $(env | sed -n 's/^\(OTEL_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset NODE_OPTIONS

limit=$(awk -v w="$warmup" -v d="$duration" 'BEGIN { printf "%d", w + d + 60 }')
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }

echo "bench_node: @grpc/grpc-js unary ping-pong, untraced vs @opentelemetry/instrumentation-grpc${key:+ [$key]}"
echo "node $(node --version); $outstanding outstanding RPC(s), ${payload}-byte messages, ${warmup} s warm-up, ${duration} s measured"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0 dropped_any=0
run() { # NAME [--traced]: sets $rate, $cpu
  local name=$1
  shift
  timeout "$limit" node "$js" "$@" --outstanding "$outstanding" --duration "$duration" \
    --warmup "$warmup" --payload "$payload" >"$out" 2>&1
  local rc=$?
  rate=$(sed -n 's/^RPC\/s: \([0-9.]*\) .*/\1/p' "$out")
  cpu=$(sed -n 's/^CPU us\/RPC: \([0-9.]*\) .*/\1/p' "$out")
  if [ -z "$rate" ] || [ -z "$cpu" ]; then
    echo "bench_node.sh: $name run failed (exit $rc):" >&2
    cat "$out" >&2
    exit 1
  fi
  local note='' spans
  [ "$rc" -ne 0 ] && note="  FAILED (exit $rc)" && failed=1
  grep -q '^WARNING: .* spans dropped' "$out" && note="$note  DROPPED spans" && dropped_any=1
  spans=$(sed -n 's/^spans received by the exporter: \([0-9]*\) .*want \([0-9]*\): \([A-Za-z]*\)$/\1 spans, want \2: \3/p' "$out")
  printf "  %-9s %10.1f RPC/s %9.2f CPU us/RPC   %s%s\n" "$name" "$rate" "$cpu" "${spans:+($spans)}" "$note"
}
u_rates=() t_rates=() u_cpu=() t_cpu=()
for ((i = 1; i <= reps; i++)); do
  echo " repetition $i/$reps"
  if ((i % 2)); then
    run untraced; u_rates+=("$rate") u_cpu+=("$cpu")
    run sampled --traced; t_rates+=("$rate") t_cpu+=("$cpu")
  else
    run sampled --traced; t_rates+=("$rate") t_cpu+=("$cpu")
    run untraced; u_rates+=("$rate") u_cpu+=("$cpu")
  fi
done
um=$(printf '%s\n' "${u_rates[@]}" | median)
tm=$(printf '%s\n' "${t_rates[@]}" | median)
ucm=$(printf '%s\n' "${u_cpu[@]}" | median)
tcm=$(printf '%s\n' "${t_cpu[@]}" | median)
echo "  medians: untraced $um RPC/s ($ucm CPU us/RPC), sampled $tm RPC/s ($tcm CPU us/RPC)"
echo "  ratio sampled/untraced of the median RPC/s: $(ratio "$tm" "$um"); CPU per RPC: $(ratio "$tcm" "$ucm")"
((dropped_any)) && echo "WARNING: some traced runs dropped spans (queue full); their figures flatter tracing"
echo "RESULT node_qps_untraced${sfx}=$um"
echo "RESULT node_qps_sampled${sfx}=$tm"
echo "RESULT node_qps_ratio_sampled${sfx}=$(ratio "$tm" "$um")"
echo "RESULT node_cpu_ratio_sampled${sfx}=$(ratio "$tcm" "$ucm")"
echo "RESULT node_spans_dropped${sfx}=$dropped_any"
exit $failed
