/*
 * rpctrace — transport-neutral propagation formats besides W3C trace
 * context (which is in context.h): W3C baggage, B3 (single and multi
 * header) and grpc-trace-bin (the OpenCensus binary format of gRPC
 * C++/Go/Java). Each function reads or writes one header value held in
 * caller memory; which metadata key it travels under is the caller's
 * business ("baggage", "b3", "x-b3-*", "grpc-trace-bin").
 *
 * Thread safety: every function here is thread-safe as long as two threads
 * do not write the same object at once; reading one object from several
 * threads is fine.
 *
 * Nothing here allocates heap memory, recurses, or reports through the diag
 * handler: malformed headers come from peers, on every request, and are the
 * caller's to count. All pointer arguments are borrowed for the duration of
 * the call only.
 */
#ifndef RPCTRACE_PROPAGATION_H
#define RPCTRACE_PROPAGATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/common.h"
#include "rpctrace/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * W3C baggage
 * ====================================================================== */

/*
 * Baggage, stored as the canonical header value: list members separated by
 * ',' and written as "key=value;pkey=pvalue;pkey2" with all optional white
 * space removed, values exactly as they came (percent-encoding is kept).
 * At most RPCT_BAGGAGE_MAX_MEMBERS members and RPCT_BAGGAGE_MAX_LEN bytes of
 * canonical text (commas included: what goes on the wire). Keys may repeat;
 * lookups see the first.
 *
 * The header value to send is buf[0..len): there is no NUL and no separate
 * formatting step (rpct_baggage_format only copies it and adds a NUL).
 * A zero-filled struct is the empty baggage.
 */
#define RPCT_BAGGAGE_MAX_LEN 8192
#define RPCT_BAGGAGE_MAX_MEMBERS 64

typedef struct rpct_baggage {
  uint16_t len;  /* bytes used in buf, no NUL */
  uint8_t count; /* members */
  char buf[RPCT_BAGGAGE_MAX_LEN];
} rpct_baggage;

/*
 * Parse one baggage header value (`s`, `len` bytes, need not be
 * NUL-terminated) into `out`, replacing what it held. Grammar (W3C Baggage):
 *   list-member = key OWS "=" OWS value *( OWS ";" OWS property )
 *   property    = key OWS "=" OWS value / key OWS
 *   key         = token (RFC 7230 tchar)
 *   value       = *( %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E )
 * with OWS (spaces, tabs) allowed around members.
 *
 * Lenient per member, as the baggage specification asks: a malformed member
 * is skipped and the valid ones around it are kept. Empty members ("a=1,,b=2",
 * a blank value) are skipped silently. When the valid members exceed the
 * limits, whole members are dropped from the end until the rest fits (a
 * member is never cut).
 *
 * Returns, with `out` always holding the members kept:
 *   RPCT_OK          every non-empty member was kept;
 *   RPCT_ERR_PARSE   at least one member was malformed and skipped;
 *   RPCT_ERR_LIMIT   none was malformed, but members were dropped to fit;
 *   RPCT_ERR_INVALID_ARGUMENT  `s` or `out` NULL (`out`, if given, emptied).
 * So a caller that only wants what is usable ignores the return; one that
 * counts bad headers looks at it. `s` may point into `out->buf`.
 */
RPCT_API int rpct_baggage_parse(const char *s, size_t len, rpct_baggage *out);

/*
 * The same for a header that arrived as several values (one per metadata
 * entry), combined in order as if joined by ','. `values[i]` has `lens[i]`
 * bytes. n == 0 gives the empty baggage and RPCT_OK. A NULL `values` or
 * `lens` (with n > 0) or a NULL `values[i]` is RPCT_ERR_INVALID_ARGUMENT
 * (`out` emptied).
 */
RPCT_API int rpct_baggage_parse_multi(const char *const *values, const size_t *lens, size_t n,
                                      rpct_baggage *out);

/*
 * Look up the first member whose key is `key` (NUL-terminated, compared
 * byte for byte). On success `*value` points into `b` (valid while `b` is
 * unchanged) and `*value_len` is the value's length, properties excluded;
 * the value is as on the wire, still percent-encoded.
 * RPCT_ERR_NOT_FOUND if absent (then *value = NULL, *value_len = 0);
 * RPCT_ERR_INVALID_ARGUMENT for a NULL argument.
 */
RPCT_API int rpct_baggage_get(const rpct_baggage *b, const char *key, const char **value,
                              size_t *value_len);

/*
 * Set `key` to `value` (both NUL-terminated, copied). The value is
 * percent-encoded as the baggage specification requires: every byte outside
 * baggage-octet, and '%' itself (so the value decodes back exactly), becomes
 * "%XX" with uppercase hex; "a b%" is stored as "a%20b%25".
 * If `key` is present its first member is replaced in place (properties of
 * the old member are dropped) and any later members with the same key are
 * removed; otherwise the member is appended.
 * Returns RPCT_OK; RPCT_ERR_PARSE when `key` is not a token;
 * RPCT_ERR_LIMIT when the result would exceed RPCT_BAGGAGE_MAX_MEMBERS or
 * RPCT_BAGGAGE_MAX_LEN (`b` unchanged in both cases);
 * RPCT_ERR_INVALID_ARGUMENT for a NULL argument.
 */
RPCT_API int rpct_baggage_set(rpct_baggage *b, const char *key, const char *value);

/*
 * Copy the canonical header value (b->buf[0..b->len)) and a NUL into `buf`
 * (`size` bytes; b->len + 1 needed). Returns the length written without the
 * NUL, RPCT_ERR_NO_SPACE, or RPCT_ERR_INVALID_ARGUMENT for NULL `b`/`buf`.
 * Callers that can send a length-delimited value can use b->buf directly.
 */
RPCT_API int rpct_baggage_format(const rpct_baggage *b, char *buf, size_t size);

/* ======================================================================
 * B3 (openzipkin/b3-propagation)
 * ====================================================================== */

/*
 * The sampling state a B3 header carried. A header may carry one without
 * ids (single "0"/"1"/"d", or X-B3-Sampled alone): the caller should then
 * honour it when starting a new trace.
 */
typedef enum rpct_b3_sampling {
  RPCT_B3_SAMPLING_DEFERRED = 0, /* absent: the receiver decides */
  RPCT_B3_SAMPLING_DENY = 1,     /* "0" / "false" */
  RPCT_B3_SAMPLING_ACCEPT = 2,   /* "1" / "true" */
  RPCT_B3_SAMPLING_DEBUG = 3     /* "d" / X-B3-Flags: 1; implies accept */
} rpct_b3_sampling;

/* "{32 hex trace id}-{16 hex span id}-{1|0}", as rpct_b3_format_single
 * writes it. */
#define RPCT_B3_SINGLE_LEN 51

/*
 * Parse a single "b3" header value (`s`, `len` bytes; spaces and tabs
 * around it ignored):
 *   {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]
 * TraceId is 32 or 16 lowercase hex digits (16 are left-padded with zeros to
 * 128 bits), SpanId and ParentSpanId 16; SamplingState is "1", "0" or "d"
 * (debug, read as sampled). The parent id is checked (16 lowercase hex, not
 * all zero) and otherwise ignored. Uppercase hex is rejected: the B3
 * specification writes ids in lowercase, and accepting both would let two
 * spellings name one id. All-zero ids are invalid.
 *
 * On success `out` gets the ids, RPCT_TRACE_FLAG_SAMPLED for "1"/"d",
 * remote = true and an empty tracestate. `sampling` (may be NULL) gets the
 * state the header carried, DEFERRED when it had none.
 * Returns RPCT_OK; RPCT_ERR_NOT_FOUND for the lone "0"/"1"/"d" form, which
 * carries a sampling decision (in *sampling) but no context;
 * RPCT_ERR_PARSE for anything else; RPCT_ERR_INVALID_ARGUMENT for a NULL `s`
 * or `out`. On every failure `out` (if given) is the invalid context and,
 * except for the lone form, *sampling is DEFERRED.
 */
RPCT_API int rpct_b3_parse_single(const char *s, size_t len, rpct_span_context *out,
                                  rpct_b3_sampling *sampling);

/*
 * Parse the multi-header form. Each header is given as a pointer and a
 * length; a NULL pointer means the header is absent (its length is then
 * ignored). Spaces and tabs around each value are ignored:
 *   X-B3-TraceId  32 or 16 lowercase hex (16 left-padded), not all zero
 *   X-B3-SpanId   16 lowercase hex, not all zero
 *   X-B3-Sampled  "1" or "true" (accept), "0" or "false" (deny)
 *   X-B3-Flags    "1" (debug, read as sampled, wins over X-B3-Sampled) or
 *                 "0" (no debug)
 * X-B3-ParentSpanId carries nothing a receiver needs and is not read.
 * A present header with any other value is RPCT_ERR_PARSE, as is one id
 * without the other. Both ids absent: RPCT_ERR_NOT_FOUND, with *sampling
 * giving what X-B3-Sampled / X-B3-Flags said (DEFERRED if neither).
 * Otherwise as rpct_b3_parse_single.
 */
RPCT_API int rpct_b3_parse_multi(const char *trace_id, size_t trace_id_len, const char *span_id,
                                 size_t span_id_len, const char *sampled, size_t sampled_len,
                                 const char *flags, size_t flags_len, rpct_span_context *out,
                                 rpct_b3_sampling *sampling);

/*
 * Format `ctx` as a single "b3" value "{32 hex}-{16 hex}-{1|0}" and a NUL
 * into `buf` (caller-owned, `size` >= RPCT_B3_SINGLE_LEN + 1). Debug cannot
 * be expressed by a span context and is never written.
 * Returns RPCT_B3_SINGLE_LEN, RPCT_ERR_NO_SPACE, or
 * RPCT_ERR_INVALID_ARGUMENT for a NULL or invalid context.
 */
RPCT_API int rpct_b3_format_single(const rpct_span_context *ctx, char *buf, size_t size);

/* The three values of the multi-header form, each NUL-terminated. */
typedef struct rpct_b3_headers {
  char trace_id[RPCT_TRACE_ID_HEX_LEN + 1]; /* X-B3-TraceId: 32 lowercase hex */
  char span_id[RPCT_SPAN_ID_HEX_LEN + 1];   /* X-B3-SpanId: 16 lowercase hex */
  char sampled[2];                          /* X-B3-Sampled: "1" or "0" */
} rpct_b3_headers;

/*
 * Format `ctx` into `out` (caller-owned). Returns RPCT_OK, or
 * RPCT_ERR_INVALID_ARGUMENT for a NULL `out` or a NULL or invalid context
 * (then `out`, if given, holds empty strings).
 */
RPCT_API int rpct_b3_format_multi(const rpct_span_context *ctx, rpct_b3_headers *out);

/* ======================================================================
 * grpc-trace-bin (OpenCensus binary trace context)
 * ====================================================================== */

/*
 * Layout: version 0, then fields as (id, value): 0 + 16-byte trace id,
 * 1 + 8-byte span id, 2 + 1-byte trace options (bit 0: sampled).
 */
#define RPCT_GRPC_TRACE_BIN_LEN 29

/*
 * Parse a grpc-trace-bin value (`b`, `len` raw bytes). The version must be
 * 0; the trace id field (id 0) and span id field (id 1) must come first, in
 * that order; the options field (id 2) may follow (absent: options 0). As the
 * OpenCensus encoding asks, parsing stops at the first unknown field id, so
 * anything after the known fields is ignored. A known field cut short,
 * a missing id field, a field out of order or an all-zero id is invalid.
 * On success `out` gets the ids, RPCT_TRACE_FLAG_SAMPLED from options bit 0
 * (other bits ignored), remote = true and an empty tracestate.
 * Returns RPCT_OK, RPCT_ERR_PARSE (then `out` is the invalid context), or
 * RPCT_ERR_INVALID_ARGUMENT for a NULL `b` or `out`.
 */
RPCT_API int rpct_grpc_trace_bin_parse(const uint8_t *b, size_t len, rpct_span_context *out);

/*
 * Write the 29-byte value for `ctx` into `out` (caller-owned, at least
 * RPCT_GRPC_TRACE_BIN_LEN bytes), options holding only the sampled bit.
 * Returns RPCT_GRPC_TRACE_BIN_LEN, or RPCT_ERR_INVALID_ARGUMENT for a NULL
 * `out` or a NULL or invalid context (`out` untouched).
 */
RPCT_API int rpct_grpc_trace_bin_format(const rpct_span_context *ctx,
                                        uint8_t out[RPCT_GRPC_TRACE_BIN_LEN]);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_PROPAGATION_H */
