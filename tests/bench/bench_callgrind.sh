#!/usr/bin/env bash
# Instructions per unary RPC under callgrind, gRPC core alone (plain), plain
# sending a traceparent of its own (the floor), and linked with rpctrace
# (traced, sampled; and traced unsampled): 1 client thread and 1 server
# thread in one process (bench_rpc --rpcs N), so client and server are both
# in the count. Each program runs N1 and then N2 RPCs; the instructions per
# RPC are (I(N2) - I(N1)) / (N2 - N1), which cancels start-up and shut-down
# (gRPC's init, the dynamic linker, thread creation): a count, not a time,
# so stable on a busy machine (where a time is not).
#
# The export thread is not the RPC path: its instructions (the inclusive
# cost of the batch processor's thread function, EXPORT_FN, default
# export_thread) are taken out of the traced figures and printed apart.
#
#   tests/bench/bench_callgrind.sh [-1 N1] [-2 N2] [-q] BUILD_DIR OUT_DIR
#
# Defaults N1=500, N2=2000 (about 2 minutes in all on 2 cores). -q: the
# unsampled program is skipped. Writes OUT_DIR/callgrind.<variant>.<N>.out,
# OUT_DIR/callgrind-diff.txt (the functions whose instructions per RPC
# differ most between traced and plain, from callgrind_annotate), and ends
# with "RESULT name=value" lines.
set -u

n1=500 n2=2000 quick=0
export_fn=${EXPORT_FN:-export_thread}
usage() {
  echo "usage: $0 [-1 N1] [-2 N2] [-q] BUILD_DIR OUT_DIR" >&2
  exit 2
}
while getopts 1:2:qh opt; do
  case $opt in
    1) n1=$OPTARG ;;
    2) n2=$OPTARG ;;
    q) quick=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
build=$1 out=$2
[ "$n2" -gt "$n1" ] 2>/dev/null || { echo "bench_callgrind.sh: want N2 > N1" >&2; exit 2; }
for tool in valgrind callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "bench_callgrind.sh: $tool not found (apt-get install valgrind)" >&2; exit 2; }
done
plain=$build/tests/bench/bench_rpc_plain
traced=$build/tests/bench/bench_rpc_traced
for b in "$plain" "$traced"; do
  [ -x "$b" ] || { echo "bench_callgrind.sh: $b not found" >&2; exit 2; }
done
mkdir -p "$out"
rm -f "$out"/callgrind.*.out "$out"/callgrind.*.log "$out"/self.*.tsv "$out"/callgrind-diff.txt

# The variants: name, OTEL_TRACES_SAMPLER, program, extra arguments.
variants=("plain||$plain|" "plain_header||$plain|--send-traceparent" "traced||$traced|")
((quick)) || variants+=("traced_unsampled|always_off|$traced|")

for v in $(env | sed -n 's/^\(\(OTEL\|RPCTRACE\)_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

# total FILE: the Ir total of a callgrind output file.
total() { sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$1"; }
# incl FILE FN: inclusive Ir of function FN (0 if absent).
incl() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v fn="$2" '
      { line = $0; sub(/ \[[^]]*\]$/, "", line) }
      line ~ ("[:]" fn "$") { gsub(/,/, "", $1); if ($1 + 0 > best) best = $1 + 0 }
      END { print best + 0 }'
}
# selfcosts FILE: "function<TAB>self Ir" for every function; the bench
# program's own object is renamed so that plain and traced compare.
selfcosts() {
  callgrind_annotate --threshold=100 "$1" 2>/dev/null |
    awk '/^ *[0-9][0-9,]* \(/ {
      c = $1; gsub(/,/, "", c)
      name = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", name)
      sub(/\[[^]]*bench_rpc_(plain|traced)\]$/, "[program]", name)
      if (name != "PROGRAM TOTALS") printf "%s\t%s\n", name, c }'
}

declare -A per_rpc
failed=0
for spec in "${variants[@]}"; do
  IFS='|' read -r name sampler bin extra <<<"$spec"
  for n in "$n1" "$n2"; do
    f=$out/callgrind.$name.$n.out
    log=$out/callgrind.$name.$n.log
    # shellcheck disable=SC2086 # $extra is one optional word
    env ${sampler:+OTEL_TRACES_SAMPLER=$sampler} timeout 900 valgrind --tool=callgrind \
      --callgrind-out-file="$f" "$bin" --clients 1 --server-threads 1 --rpcs "$n" $extra >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ ! -s "$f" ]; then
      echo "bench_callgrind.sh: $name --rpcs $n failed (exit $rc); see $log" >&2
      failed=1
      continue 2
    fi
  done
  f1=$out/callgrind.$name.$n1.out f2=$out/callgrind.$name.$n2.out
  t1=$(total "$f1") t2=$(total "$f2")
  x1=0 x2=0
  if [ "$bin" = "$traced" ]; then
    x1=$(incl "$f1" "$export_fn") x2=$(incl "$f2" "$export_fn")
    if [ "$x2" = 0 ]; then
      echo "bench_callgrind.sh: no function '$export_fn' in the traced profile; the export thread is" >&2
      echo "  counted in the RPC path (set EXPORT_FN to its thread function)" >&2
    fi
  fi
  per_rpc[$name]=$(awk -v a="$t1" -v b="$t2" -v xa="$x1" -v xb="$x2" -v n1="$n1" -v n2="$n2" \
    'BEGIN { printf "%.0f", ((b - xb) - (a - xa)) / (n2 - n1) }')
  per_rpc[${name}_export]=$(awk -v xa="$x1" -v xb="$x2" -v n1="$n1" -v n2="$n2" \
    'BEGIN { v = (xb - xa) / (n2 - n1); printf "%.0f", (v > -0.5 && v < 0.5) ? 0 : v }')
  selfcosts "$f1" >"$out/self.$name.$n1.tsv"
  selfcosts "$f2" >"$out/self.$name.$n2.tsv"
  printf "  %-18s %12s Ir (%d RPCs)  %12s Ir (%d RPCs)  -> %s instructions per RPC%s\n" \
    "$name" "$t1" "$n1" "$t2" "$n2" "${per_rpc[$name]}" \
    "$([ "$bin" = "$traced" ] && echo " (export thread excluded: ${per_rpc[${name}_export]} per RPC)")"
done
[ $failed -eq 0 ] || exit 1

# The per-function difference: self Ir per RPC of each function in each
# variant (two-length difference), traced minus plain, largest first.
diff_file=$out/callgrind-diff.txt
{
  echo "Instructions per RPC by function (self cost; (I($n2) - I($n1)) / $((n2 - n1)) RPCs), 1 client"
  echo "thread and 1 server thread in one process, from callgrind_annotate of the files in $out."
  echo "Sorted by |traced - plain|; the top 60. Inlined functions count in their caller; [program]"
  echo "is the benchmark executable, into which rpctrace is linked statically (rpctrace::wrap)."
  echo "Total per RPC: plain ${per_rpc[plain]}, plain_header ${per_rpc[plain_header]}," \
    "traced ${per_rpc[traced]}${per_rpc[traced_unsampled]:+, traced_unsampled ${per_rpc[traced_unsampled]}}" \
    "(export thread excluded; it adds ${per_rpc[traced_export]} per RPC)."
  echo
  unsampled_tsv=()
  ((quick)) || unsampled_tsv=("$out/self.traced_unsampled.$n1.tsv" "$out/self.traced_unsampled.$n2.tsv")
  awk -F'\t' -v n1="$n1" -v n2="$n2" '
    FNR == 1 { k = split(FILENAME, parts, "/"); split(parts[k], b, "."); var = b[2]; len = b[3] }
    { cost[$1, var, len] = $2; names[$1] = 1 }
    function per(fn, v) { return (cost[fn, v, n2] - cost[fn, v, n1]) / (n2 - n1) }
    END {
      for (fn in names) {
        p = per(fn, "plain"); t = per(fn, "traced"); d = t - p
        printf "%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\n", (d < 0 ? -d : d), d, p,
          per(fn, "plain_header"), per(fn, "traced_unsampled"), t, fn
      }
    }' "$out"/self.{plain,plain_header,traced}."$n1".tsv "$out"/self.{plain,plain_header,traced}."$n2".tsv \
    "${unsampled_tsv[@]}" |
    sort -t$'\t' -k1,1gr | head -60 |
    awk -F'\t' 'BEGIN { printf "%10s %10s %10s %10s %10s  %s\n", "traced-", "plain", "plain+hdr", "unsampled", "traced", "function [object]"
                        printf "%10s\n", "plain" }
                { printf "%+10.1f %10.1f %10.1f %10.1f %10.1f  %s\n", $2, $3, $4, $5, $6, $7 }'
} >"$diff_file"

added=$(awk -v t="${per_rpc[traced]}" -v p="${per_rpc[plain]}" 'BEGIN { print t - p }')
added_hdr=$(awk -v t="${per_rpc[traced]}" -v p="${per_rpc[plain_header]}" 'BEGIN { print t - p }')
echo "  traced - plain: $added instructions per RPC; traced - plain_header: $added_hdr"
echo "  (DESIGN.md target: <= 4,000 added per traced RPC, export thread excluded)"
echo "  top functions of the difference: $diff_file"
echo "RESULT instructions_per_rpc_plain=${per_rpc[plain]}"
echo "RESULT instructions_per_rpc_plain_header=${per_rpc[plain_header]}"
echo "RESULT instructions_per_rpc_traced=${per_rpc[traced]}"
echo "RESULT instructions_added_per_rpc=$added"
echo "RESULT instructions_added_vs_header_per_rpc=$added_hdr"
echo "RESULT instructions_export_thread_per_rpc=${per_rpc[traced_export]}"
if ((!quick)); then
  echo "RESULT instructions_added_unsampled_per_rpc=$(awk -v t="${per_rpc[traced_unsampled]}" \
    -v p="${per_rpc[plain]}" 'BEGIN { print t - p }')"
fi
echo "RESULT callgrind_diff_file=$diff_file"
