#!/usr/bin/env bash
# run.same_spans_as_linked: `rpctrace run` on the unmodified, unlinked
# UserService example yields the same client/server span pairs as the build
# linked with rpctrace::wrap.
#
#   compare_run.sh RPCTRACE USER_SERVER USER_CLIENT USER_SERVER_UNTRACED USER_CLIENT_UNTRACED [NODE]
#
# Two runs of the same RPCs, each with a server on a free loopback port and
# one client process per RPC (get 1, get 999 -> NOT_FOUND, list 3,
# create a b c d -> INVALID_ARGUMENT), spans written by the otlp_file
# exporter:
#   linked  user_server / user_client, configured through OTEL_* variables;
#   run     user_server_untraced / user_client_untraced (built with
#           -DEX_UNTRACED: no rpctrace call, not linked with it) under
#           `rpctrace run --service ... --exporter otlp_file --file ...`.
# The server stops on SIGTERM, which flushes its spans. compare_spans.js
# then checks the files and the programs' output (what, at its top) and
# prints "N passed, M failed". Exit status: 0 when everything passed.
#
# Every process started is killed on every way out; each wait is bounded.
# The work folder (spans, logs) is removed after a pass and kept, its path
# printed, after a failure.
set -euo pipefail

if (($# < 5)); then
  echo "usage: compare_run.sh RPCTRACE USER_SERVER USER_CLIENT USER_SERVER_UNTRACED USER_CLIENT_UNTRACED [NODE]" >&2
  exit 2
fi
tool=$1
declare -A server=([linked]=$2 [run]=$4)
declare -A client=([linked]=$3 [run]=$5)
node=${6:-node}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for program in "$tool" "$2" "$3" "$4" "$5"; do
  if [[ ! -x "$program" ]]; then
    echo "compare_run: $program is missing; build it first" >&2
    exit 1
  fi
done
if ! command -v "$node" >/dev/null; then
  echo "compare_run: node (Node.js >= 20) not found; it reads the span files" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rpctrace-run-compare.XXXXXX")
pids=() # every process started and not yet waited for, killed on exit
ok=0

# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((ok)); then
    rm -rf "$work"
  else
    echo "compare_run: FAILED; spans and logs in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "compare_run: $*" >&2
  exit 1
}

# reaped PID: PID was waited for; never signal it again (the number may
# be reused).
reaped() {
  local p rest=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || rest+=("$p"); done
  pids=("${rest[@]}")
}

# finish PID SECONDS: waits up to SECONDS for PID to exit, then kills it;
# sets `status`, its exit status (124 when it had to be killed).
finish() {
  local p=$1 i killed=0
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    kill -KILL "$p" 2>/dev/null || true
    killed=1
  fi
  status=0
  wait "$p" || status=$?
  reaped "$p"
  ((killed == 0)) || status=124
}

# The same starting point for both runs: only what each run sets.
unset OTEL_SDK_DISABLED OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG OTEL_PROPAGATORS \
  OTEL_RESOURCE_ATTRIBUTES OTEL_SEMCONV_STABILITY_OPT_IN OTEL_EXPORTER_OTLP_ENDPOINT \
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT RPCTRACE_GRPC_INCLUDE RPCTRACE_GRPC_EXCLUDE \
  RPCTRACE_GRPC_PUBLIC_ENDPOINT RPCTRACE_GRPC_MESSAGE_EVENTS RPCTRACE_GRPC_SPAN_NAMES \
  RPCTRACE_GRPC_REQUEST_METADATA RPCTRACE_GRPC_RESPONSE_METADATA RPCTRACE_PRELOAD LD_PRELOAD \
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT OTEL_ATTRIBUTE_COUNT_LIMIT
export OTEL_BSP_SCHEDULE_DELAY=100

# The RPCs, one client process each.
rpcs=("get 1" "get 999" "list 3" "create a b c d")
n_get_user=2 # GetUser calls among them: one users.lookup span each when linked

# traced MODE SERVICE FILE PROGRAM ARGS...: sets `cmd` to the command
# line that runs PROGRAM traced the MODE way, its spans going to FILE as
# SERVICE.
cmd=()
traced() {
  local mode=$1 service=$2 file=$3
  shift 3
  if [[ $mode == linked ]]; then
    cmd=(env OTEL_TRACES_EXPORTER=otlp_file "RPCTRACE_OTLP_FILE_PATH=$file"
      "OTEL_SERVICE_NAME=$service" "$@")
  else
    cmd=("$tool" run --service "$service" --exporter otlp_file --file "$file" -- "$@")
  fi
}

# run_mode MODE: the server, the client runs, the server stopped.
run_mode() {
  local mode=$1 i p port='' status
  local out=$work/${mode}_server

  # (env and `rpctrace run` exec the program: $! is the program's pid,
  # for the server here and each client below.)
  traced "$mode" user-service "$work/${mode}_server.jsonl" "${server[$mode]}" --listen 127.0.0.1:0
  "${cmd[@]}" >"$out.out" 2>"$out.err" &
  p=$!
  pids+=("$p")
  for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([1-9][0-9]*\)$/\1/p' "$out.out" 2>/dev/null | head -n 1) || true
    [[ -n "$port" ]] && break
    kill -0 "$p" 2>/dev/null || { cat "$out.err" >&2; fail "$mode: the server exited before it listened"; }
    sleep 0.1
  done
  [[ -n "$port" ]] || fail "$mode: the server printed no 'listening on 127.0.0.1:PORT' within 10 s"
  echo "compare_run: $mode: server on 127.0.0.1:$port"

  for ((i = 1; i <= ${#rpcs[@]}; i++)); do
    local c=$work/${mode}_client_$i cp args
    read -ra args <<<"${rpcs[i - 1]}"
    traced "$mode" user-client "$work/${mode}_client.jsonl" "${client[$mode]}" \
      --target "127.0.0.1:$port" "${args[@]}"
    "${cmd[@]}" >"$c.out" 2>"$c.err" &
    cp=$!
    pids+=("$cp")
    finish "$cp" 30
    echo "$status" >"$c.rc"
    ((status != 124)) || fail "$mode: client run '${rpcs[i - 1]}' took more than 30 s"
    echo "compare_run: $mode: user_client ${rpcs[i - 1]}: exit $status"
  done

  # SIGTERM: the server lets calls finish and flushes its spans.
  kill -TERM "$p" 2>/dev/null || true
  finish "$p" 15
  ((status != 124)) || fail "$mode: the server did not stop within 15 s of SIGTERM"
  echo "$status" >"$out.rc"
}

run_mode linked
run_mode run

echo
result=0
"$node" "$here/compare_spans.js" "$work" "${#rpcs[@]}" "$n_get_user" || result=$?
((result == 0)) && ok=1
exit "$result"
