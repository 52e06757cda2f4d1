#!/usr/bin/env bash
# The multi-service demo, end to end, on loopback:
#
#   demo_client -> gateway -> user-service     (user.v1.UserService/GetUser)
#                          -> order-service    (order.v1.OrderService/PlaceOrder)
#                               -> payment-service (payment.v1.PaymentService/Charge)
#
# Starts the local collector (`rpctrace collect`), the four services, each
# with its own OTEL_SERVICE_NAME and exporting to the collector, and
# demo_client, which sends three CreateOrder requests; the second fails in
# the payment service. Then stops everything (the services flush their
# spans on SIGTERM), prints the traces as a waterfall, writes them as HTML
# and checks them:
#   - each request's trace runs through the four services;
#   - the failed request's trace has an error span in payment-service;
#   - the trace and span ids each service wrote in its log lines are those
#     of its spans in the collector's file (and the file has no other trace).
# Exits non-zero when anything fails; every process it started is killed
# on every way out.
#
#   scripts/demo.sh [BUILD_DIR]        (default: build; builds nothing)
#
# Output: BUILD_DIR/demo/traces.jsonl and BUILD_DIR/demo/traces.html; the
# processes' logs stay in a temporary folder, whose path is printed when a
# check fails.
set -euo pipefail

build_arg=${1:-build}
if [[ ! -d "$build_arg" ]]; then
  echo "demo: no build folder '$build_arg'; build first (make build, or cmake --build)" >&2
  exit 1
fi
build=$(cd "$build_arg" && pwd)
tool=$build/tools/rpctrace
ex=$build/examples
for program in "$tool" "$ex/gateway" "$ex/user_server" "$ex/order_service" \
  "$ex/payment_service" "$ex/demo_client"; do
  if [[ ! -x "$program" ]]; then
    echo "demo: $program is missing; build it first (cmake --build $build_arg)" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rpctrace-demo.XXXXXX")
out_dir=$build/demo
mkdir -p "$out_dir"

# ---- processes ----

pids=()  # everything started, killed on exit
ok=0     # set to 1 when every check passed

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((ok)); then
    rm -rf "$work"
  else
    echo "demo: FAILED; logs and traces in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "demo: $*" >&2
  exit 1
}

# start NAME COMMAND...: runs COMMAND in the background, stdout to
# $work/NAME.out, stderr to $work/NAME.log; its pid in pid[NAME].
declare -A pid
start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pid[$name]=$!
  pids+=("$!")
}

# wait_port NAME: waits (10 s at most) until NAME printed the address it
# listens on, on stdout or stderr; sets `port`.
wait_port() {
  local name=$1 i
  port=
  for ((i = 0; i < 100; i++)); do
    # (The files may not exist yet: the child creates them.)
    port=$(cat "$work/$name.out" "$work/$name.log" 2>/dev/null |
      sed -n 's/.*listening on [^ ]*:\([1-9][0-9]*\).*/\1/p' | head -n 1) || true
    [[ -n "$port" ]] && return 0
    if ! kill -0 "${pid[$name]}" 2>/dev/null; then
      cat "$work/$name.log" >&2 || true
      fail "$name exited before it listened"
    fi
    sleep 0.1
  done
  fail "$name printed no 'listening on' line within 10 s"
}

# stop NAME: SIGTERM, then up to 10 s for a clean exit (status 0), then
# SIGKILL and failure.
stop() {
  local name=$1 p=${pid[$1]} i status=0
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    fail "$name did not stop within 10 s of SIGTERM"
  fi
  wait "$p" || status=$?
  ((status == 0)) || fail "$name exited with status $status after SIGTERM"
}

# ---- run ----

# In a ThreadSanitizer build (make test runs ctest there too): Debian's
# gRPC core and abseil are not instrumented, so TSan would report races
# inside them that are not there; check our code only, as
# tests/tsan_options.c does for the test programs. No effect otherwise.
export TSAN_OPTIONS="ignore_noninstrumented_modules=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

traces=$work/traces.jsonl
start collector "$tool" collect --listen 127.0.0.1:0 --out "$traces"
wait_port collector
collector_port=$port
echo "demo: collector on 127.0.0.1:$collector_port"

export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$collector_port
export OTEL_BSP_SCHEDULE_DELAY=200
export OTEL_TRACES_EXPORTER=otlp
unset OTEL_SDK_DISABLED OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG OTEL_PROPAGATORS \
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT RPCTRACE_GRPC_INCLUDE RPCTRACE_GRPC_EXCLUDE \
  RPCTRACE_GRPC_PUBLIC_ENDPOINT

# Downstream first, so each service is given the ports it calls.
start payment-service env OTEL_SERVICE_NAME=payment-service "$ex/payment_service" --listen 127.0.0.1:0
wait_port payment-service
payment_port=$port
start order-service env OTEL_SERVICE_NAME=order-service "$ex/order_service" --listen 127.0.0.1:0 \
  --payment-target "127.0.0.1:$payment_port"
wait_port order-service
order_port=$port
start user-service env OTEL_SERVICE_NAME=user-service "$ex/user_server" --listen 127.0.0.1:0
wait_port user-service
user_port=$port
start gateway env OTEL_SERVICE_NAME=gateway "$ex/gateway" --listen 127.0.0.1:0 \
  --user-target "127.0.0.1:$user_port" --order-target "127.0.0.1:$order_port"
wait_port gateway
gateway_port=$port
echo "demo: gateway :$gateway_port, user-service :$user_port, order-service :$order_port, payment-service :$payment_port"

client_status=0
OTEL_SERVICE_NAME=demo-client timeout 60 "$ex/demo_client" --target "127.0.0.1:$gateway_port" \
  >"$work/demo-client.out" 2>"$work/demo-client.log" || client_status=$?
cat "$work/demo-client.log" "$work/demo-client.out"
((client_status == 0)) || fail "demo_client exited with status $client_status"

# Each service flushes its spans to the collector as it stops.
for name in gateway order-service user-service payment-service; do stop "$name"; done
stop collector

echo
"$tool" view "$traces" || fail "rpctrace view failed"
cp "$traces" "$out_dir/traces.jsonl"
"$tool" html "$traces" -o "$out_dir/traces.html" || fail "rpctrace html failed"

# ---- checks ----

services=(gateway user-service order-service payment-service)

# The file as a table, one row per span: "span SERVICE TRACE_ID SPAN_ID
# ERROR" (ERROR 1 when the span's status is ERROR), from the tokens that
# matter, in file order. The collector writes compact OTLP/JSON, as the
# otlp_file exporter does, fields in .proto order: a resource's
# service.name comes before its spans, and in a span traceId and spanId
# come before status. Quoted keys cannot match inside string values, whose
# quotes are escaped. (A span's links would also carry traceId/spanId; the
# demo's spans have none.) No jq or node needed.
string='"([^"\\]|\\.)*"' # a JSON string, escapes included
tokens='"resource":\{'
tokens+='|"key":"service\.name","value":\{"stringValue":'"$string"
tokens+='|"traceId":"[0-9a-f]{32}"'
tokens+='|"spanId":"[0-9a-f]{16}"'
tokens+='|"status":\{("message":'"$string"',?)?("code":[0-9]+)?'
table=$work/spans.txt
{ grep -oE "$tokens" "$traces" || true; } |
  awk '
    function flush() { if (span != "") print "span", service, trace, span, error; span = "" }
    /^"resource"/ { flush(); service = "?"; next }
    /"service\.name"/ { flush(); sub(/.*"stringValue":"/, ""); sub(/"$/, ""); service = $0; next }
    /"traceId"/ { flush(); trace = substr($0, 12, 32); error = 0; next }
    /"spanId"/ { span = substr($0, 11, 16); next }
    /"status"/ { if ($0 ~ /"code":2$/) error = 1; next }
    END { flush() }' >"$table"

n_spans=$(wc -l <"$table")
((n_spans > 0)) || fail "no spans in $traces"

# The demo's requests, from demo_client's log: one trace each.
mapfile -t request_traces < <(sed -n 's/^demo-client: request .* trace_id=\([0-9a-f]\{32\}\) .*/\1/p' \
  "$work/demo-client.log")
((${#request_traces[@]} == 3)) || fail "expected 3 request lines from demo_client, got ${#request_traces[@]}"
failed_trace=$(sed -n 's/^demo-client: request .* status=\([A-Z_]*\) .* trace_id=\([0-9a-f]\{32\}\) .*/\1 \2/p' \
  "$work/demo-client.log" | awk '$1 != "OK" { print $2 }')
[[ $(wc -w <<<"$failed_trace") -eq 1 ]] || fail "expected exactly one failed request, got: ${failed_trace:-none}"

# 1. Each request's trace runs through the four services.
for t in "${request_traces[@]}"; do
  for s in "${services[@]}" demo-client; do
    awk -v s="$s" -v t="$t" '$2 == s && $3 == t { found = 1 } END { exit !found }' "$table" ||
      fail "trace $t has no span of $s"
  done
done
file_traces=$(awk '{ print $3 }' "$table" | sort -u)
[[ "$file_traces" == "$(printf '%s\n' "${request_traces[@]}" | sort -u)" ]] ||
  fail "the file has other traces than the demo's three: $(tr '\n' ' ' <<<"$file_traces")"

# 2. The failed request's trace has an error span in payment-service.
awk -v t="$failed_trace" '$2 == "payment-service" && $3 == t && $5 == 1 { found = 1 } END { exit !found }' \
  "$table" || fail "the failed trace $failed_trace has no error span in payment-service"

# 3. Log lines and spans agree: the trace ids in each service's log are
#    the trace ids of its spans, and every span id it logged is one of them.
for s in "${services[@]}" demo-client; do
  log=$work/$s.log
  logged_traces=$(sed -n 's/.* trace_id=\([0-9a-f]\{32\}\) .*/\1/p' "$log" | sort -u)
  span_traces=$(awk -v s="$s" '$2 == s { print $3 }' "$table" | sort -u)
  [[ -n "$logged_traces" ]] || fail "$s logged no trace ids"
  [[ "$logged_traces" == "$span_traces" ]] ||
    fail "$s: trace ids in its log ($(wc -l <<<"$logged_traces")) differ from those of its spans ($(wc -l <<<"$span_traces"))"
  while read -r span_id; do
    awk -v s="$s" -v id="$span_id" '$2 == s && $4 == id { found = 1 } END { exit !found }' "$table" ||
      fail "$s logged span_id=$span_id, which is none of its spans"
  done < <(sed -n 's/.* span_id=\([0-9a-f]\{16\}\) .*/\1/p' "$log" | sort -u)
done

ok=1
n_errors=$(awk '$5 == 1' "$table" | wc -l)
echo
echo "demo: ${#request_traces[@]} traces, $n_spans spans from ${#services[@]} services and demo_client; $n_errors error spans"
echo "demo: request trace $failed_trace failed in payment-service, as planned"
echo "demo: checks passed: every trace crosses all four services; the failure is an error span in"
echo "      payment-service; the trace and span ids in the services' logs are those in the traces"
echo "demo: traces in $out_dir/traces.jsonl"
echo "demo: HTML view: $out_dir/traces.html"
