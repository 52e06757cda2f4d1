/*
 * OTLP trace protobuf, read where it lies in the request bytes, written
 * out as OTLP/JSON a piece at a time: what `rpctrace collect` runs on each
 * Export request.
 *
 * Why not protobuf-c's unpack and otlp_pb_json.h (kept: the reference
 * these functions are tested against): unpack allocates a struct per
 * message and the converter then builds the whole line, so an Export
 * request of empty spans, 2 bytes each on the wire, cost 190 times its
 * size in memory (2 MB: 390 MB). Here nothing is allocated per message:
 * fields are read from the request bytes as the JSON is written, and the
 * JSON goes into a sink that hands it on (to the output file) each time it
 * holds a given amount, so memory is the request plus that amount.
 *
 * Two passes. rtt_otlp_wire_check walks the whole request first and
 * refuses what protobuf-c refuses (malformed wire data, a known field with
 * another wire type) and nesting deeper than RTT_OTLP_MAX_DEPTH: a line is
 * only started for a request that will be written whole. Then
 * rtt_otlp_wire_to_json writes it.
 *
 * The JSON is otlp_pb_json.h's, byte for byte, for every request in
 * canonical form (each singular field given at most once, as encoders
 * write them). For the rest, protobuf's rules: of a scalar or string field
 * given twice the last wins; the occurrences of a message field merge, as
 * if their bytes were one message; of a oneof the last member given wins,
 * merged with that member's occurrences since another member was given.
 * (protobuf-c differs there: a later message in a oneof replaces the
 * earlier, a proto3 scalar of a merged message is reset to 0 when the later
 * occurrence leaves it out, and a bool is taken with any wire type, which
 * rtt_otlp_wire_check refuses.) Strings are written whole, a NUL byte as
 * \u0000, where protobuf-c's strings end at their first NUL.
 *
 * Thread safety: pure functions of their arguments; a sink is used by one
 * thread at a time.
 */
#ifndef RPCTRACE_TOOLS_OTLP_WIRE_JSON_H
#define RPCTRACE_TOOLS_OTLP_WIRE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_writer.h"

/* Message nesting accepted (the request is level 1; a span's attribute
 * value is level 6; each array or kvlist adds 2). protobuf-c unpacks
 * recursively with no limit of its own, and the JSON reader of `rpctrace
 * view` has one. */
#define RTT_OTLP_MAX_DEPTH 64

typedef enum rtt_otlp_wire_status {
  RTT_OTLP_WIRE_OK = 0,
  RTT_OTLP_WIRE_MALFORMED, /* not a well-formed ExportTraceServiceRequest */
  RTT_OTLP_WIRE_TOO_DEEP,  /* messages nested deeper than RTT_OTLP_MAX_DEPTH */
} rtt_otlp_wire_status;

/*
 * Check the serialized ExportTraceServiceRequest data[0..len) (NULL with
 * len 0 is the empty request) in one walk over the bytes, iterative, with
 * no allocation. On RTT_OTLP_WIRE_OK, *spans (may be NULL) is the number of
 * spans it holds, which is what rtt_otlp_wire_to_json writes.
 */
rtt_otlp_wire_status rtt_otlp_wire_check(const uint8_t *data, size_t len, size_t *spans);

/* Called with the JSON written so far (data[0..len), borrowed for the
 * call); returns false to stop the conversion (a failed write). */
typedef bool (*rtt_json_sink_flush)(void *ctx, const char *data, size_t len);

/* Where the JSON goes. Fields are read-only to the user but for buf, whose
 * contents after the conversion are the end of the line, not yet flushed. */
typedef struct rtt_json_sink {
  rpct__json_buf buf;
  size_t flush_at;           /* flush when buf holds this much; 0: never */
  rtt_json_sink_flush flush; /* with flush_at 0: unused, may be NULL */
  void *ctx;                 /* borrowed, handed to flush */
  bool failed;               /* flush returned false */
} rtt_json_sink;

/* How far past flush_at the buffer may get: more than one step of the
 * converter writes before it checks (at most an 8 KiB piece of a string,
 * each byte of which can take 6 as \u00XX, and a quote). */
#define RTT_JSON_SINK_SLACK ((size_t)64 * 1024)

/*
 * An empty sink. With flush_at > 0 its buffer is allocated, on first use,
 * at flush_at + RTT_JSON_SINK_SLACK bytes and never grows: pages are only
 * touched as they are written, so a small line costs its size. Allocates
 * nothing itself.
 */
void rtt_json_sink_init(rtt_json_sink *s, size_t flush_at, rtt_json_sink_flush flush, void *ctx);
/* Free the buffer. */
void rtt_json_sink_release(rtt_json_sink *s);

/*
 * Write data[0..len), a request rtt_otlp_wire_check accepted, as one JSON
 * object (no newline) into `s`, flushing as it fills. Returns true when it
 * was all written (the last part is in s->buf); false when flush refused
 * (s->failed) or memory ran out (s->buf.oom), having flushed part of it.
 * Data the check refuses is not read out of bounds, but what is written
 * for it is unspecified.
 */
bool rtt_otlp_wire_to_json(rtt_json_sink *s, const uint8_t *data, size_t len);

#endif /* RPCTRACE_TOOLS_OTLP_WIRE_JSON_H */
