#!/bin/sh
# filters.otlp_collector_untraced: a program linked with rpctrace::wrap calls
# rpct_init(NULL) with OTEL_TRACES_EXPORTER=otlp pointed at otlp_sink, a test
# collector running in a process of its own, and runs RPCs in two rounds
# (so an exporter call, were it traced, would be exported in the second).
# The collector must receive exactly the spans of those RPCs: none of
# opentelemetry.proto.collector.trace.v1.TraceService/Export.
#
#   run_otlp_collector.sh SINK CLIENT CHECKER WORK_DIR
set -u
sink=$1 client=$2 checker=$3 dir=$4
rm -rf "$dir" && mkdir -p "$dir" || exit 1
"$sink" "$dir/spans.txt" > "$dir/sink.out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT
port=
i=0
while [ $i -lt 100 ]; do
  port=$(sed -n 's/^port //p' "$dir/sink.out")
  [ -n "$port" ] && break
  sleep 0.1
  i=$((i + 1))
done
if [ -z "$port" ]; then
  echo "FAIL otlp_sink did not start:"; cat "$dir/sink.out"
  exit 1
fi
echo "otlp_sink (pid $pid) on 127.0.0.1:$port"
env OTEL_TRACES_EXPORTER=otlp \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" \
    OTEL_BSP_SCHEDULE_DELAY=100 \
    OTEL_SERVICE_NAME=filter-matrix \
    "$client" --otlp-env --expect "$dir/rpcs.txt"
rc=$?
kill -TERM "$pid"
wait "$pid"
trap - EXIT
cat "$dir/sink.out"
if grep -q "^not an export" "$dir/sink.out"; then
  echo "FAIL the collector received calls other than Export"
  rc=1
fi
"$checker" --expect "$dir/rpcs.txt" --spans "$dir/spans.txt" || rc=1
exit $rc
