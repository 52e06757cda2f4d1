/*
 * OTLP protobuf (protobuf-c) -> OTLP/JSON: the reference encoding.
 *
 * `rpctrace collect` no longer decodes with protobuf-c (a struct per
 * message made a request of empty spans cost 190 times its size): it
 * converts the wire bytes as they lie (otlp_wire_json.h), and its tests
 * hold that converter to this one, byte for byte. This one stays for that
 * and for the fuzz target of the protobuf-c route.
 *
 * The encoding is the one the otlp_file exporter writes (src/export/
 * otlp_json_exporter.c), through the same writer (json_writer.h):
 * lowerCamelCase names in .proto declaration order, trace and span ids as
 * lowercase hex, enums as integers, 64-bit integers as decimal strings,
 * default values left out (proto3) except a span's traceId, spanId, flags,
 * name, kind and times, which are always written; `status` left out when
 * UNSET without message, `resource` and `scope` when empty. What the
 * exporter never produces is written per proto3 JSON: arrayValue,
 * kvlistValue, bytesValue (base64), schemaUrl, scope attributes and every
 * droppedAttributesCount. So a request made by rpctrace's own OTLP/gRPC
 * exporter becomes, byte for byte, the line its otlp_file exporter writes.
 *
 * Thread safety: pure functions of their arguments.
 */
#ifndef RPCTRACE_TOOLS_OTLP_PB_JSON_H
#define RPCTRACE_TOOLS_OTLP_PB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_writer.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_wire_json.h" /* RTT_OTLP_MAX_DEPTH */

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest rtt_pb_request;

/*
 * Append `req` as one JSON object (no newline) to `b`. AnyValues nested
 * deeper than RTT_OTLP_MAX_DEPTH messages are written as {} (a request
 * that passed rtt_otlp_wire_depth_ok has none). Check b->oom afterwards.
 */
void rtt_otlp_request_to_json(rpct__json_buf *b, const rtt_pb_request *req);

/*
 * Whether the serialized ExportTraceServiceRequest data[0..len) nests its
 * messages at most `max_depth` deep. protobuf-c unpacks recursively with
 * no limit of its own, so a small hostile message (a few bytes per level)
 * could exhaust the stack: the receiver checks with this walk, iterative
 * in the wire bytes and bounded in depth, before unpacking. Malformed wire
 * data is not judged here (returns true): protobuf-c rejects it.
 */
bool rtt_otlp_wire_depth_ok(const uint8_t *data, size_t len, unsigned max_depth);

/* Number of spans in `req`. */
size_t rtt_otlp_request_span_count(const rtt_pb_request *req);

#endif /* RPCTRACE_TOOLS_OTLP_PB_JSON_H */
