#!/bin/sh
# filters.matrix_preload: the untraced matrix binary, unmodified and not
# linked with rpctrace, run under LD_PRELOAD=librpctrace_preload.so with the
# otlp_file exporter; then filter_check holds the spans it wrote against the
# RPCs the program ran.
#
#   run_preload.sh PLAIN_BINARY PRELOAD_LIB CHECKER WORK_DIR [RUNTIME_LIB]
#
# RUNTIME_LIB (sanitizer trees): a sanitizer runtime that must come first in
# the library list, preloaded ahead of PRELOAD_LIB.
set -u
plain=$1 preload=$2 checker=$3 dir=$4 runtime=${5:-}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
libs=$preload
[ -n "$runtime" ] && libs=$runtime:$preload
env LD_PRELOAD="$libs" \
    OTEL_TRACES_EXPORTER=otlp_file \
    RPCTRACE_OTLP_FILE_PATH="$dir/spans.jsonl" \
    OTEL_BSP_SCHEDULE_DELAY=50 \
    RPCTRACE_GRPC_REQUEST_METADATA=x-test-id \
    RPCTRACE_GRPC_KNOWN_METHODS=test.Echo \
    "$plain" --traced --expect "$dir/rpcs.txt"
rc=$?
if [ ! -s "$dir/spans.jsonl" ]; then
  echo "FAIL the preloaded library wrote no span to $dir/spans.jsonl"
  exit 1
fi
"$checker" --expect "$dir/rpcs.txt" --otlp-json "$dir/spans.jsonl" || rc=1
exit $rc
