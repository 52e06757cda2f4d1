/*
 * rpctrace — trace and span ids, span context, W3C trace context
 * (traceparent, tracestate) and the thread's current context.
 *
 * Thread safety: every function here is thread-safe as long as two threads
 * do not write the same object at once. Id generation uses a per-thread
 * generator (no lock, no syscall after the first use on a thread; reseeded in
 * a child after fork()). The current context is per thread.
 *
 * Nothing here allocates heap memory.
 */
#ifndef RPCTRACE_CONTEXT_H
#define RPCTRACE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rpct_trace_id {
  uint8_t bytes[16];
} rpct_trace_id;

typedef struct rpct_span_id {
  uint8_t bytes[8];
} rpct_span_id;

#define RPCT_TRACE_ID_HEX_LEN 32
#define RPCT_SPAN_ID_HEX_LEN 16

/* trace-flags bits this library knows; others are never propagated. */
#define RPCT_TRACE_FLAG_SAMPLED 0x01u
#define RPCT_TRACE_FLAG_RANDOM 0x02u /* W3C Level 2: trace id is random */
#define RPCT_TRACE_FLAGS_KNOWN (RPCT_TRACE_FLAG_SAMPLED | RPCT_TRACE_FLAG_RANDOM)

/* A fresh random trace id / span id from this thread's generator; never all
 * zero. `out` is written. */
RPCT_API void rpct_trace_id_generate(rpct_trace_id *out);
RPCT_API void rpct_span_id_generate(rpct_span_id *out);

RPCT_API bool rpct_trace_id_is_valid(const rpct_trace_id *id); /* not all zero */
RPCT_API bool rpct_span_id_is_valid(const rpct_span_id *id);

/*
 * Lowercase hex into `buf` (borrowed, caller-owned, `size` bytes).
 * Writes 32 (16) hex digits and a NUL: needs size >= 33 (17).
 * Returns the number of hex digits written or RPCT_ERR_NO_SPACE.
 */
RPCT_API int rpct_trace_id_format(const rpct_trace_id *id, char *buf, size_t size);
RPCT_API int rpct_span_id_format(const rpct_span_id *id, char *buf, size_t size);

/* Lowercase hex (exactly 32 / 16 digits, `s` need not be NUL-terminated)
 * into `out`. RPCT_ERR_PARSE for anything else, including uppercase.
 * All-zero ids parse: validity is a separate question. */
RPCT_API int rpct_trace_id_parse(const char *s, size_t len, rpct_trace_id *out);
RPCT_API int rpct_span_id_parse(const char *s, size_t len, rpct_span_id *out);

/*
 * W3C tracestate, stored in canonical form: "k1=v1,k2=v2" with no empty
 * members and no optional white space, at most RPCT_TRACESTATE_MAX_LEN
 * characters and RPCT_TRACESTATE_MAX_MEMBERS members.
 * A zero-filled struct is the empty tracestate.
 */
#define RPCT_TRACESTATE_MAX_LEN 512
#define RPCT_TRACESTATE_MAX_MEMBERS 32
#define RPCT_TRACESTATE_MAX_KEY_LEN 256
#define RPCT_TRACESTATE_MAX_VALUE_LEN 256
/* Members longer than this are the first dropped when truncating. */
#define RPCT_TRACESTATE_LARGE_MEMBER 128

typedef struct rpct_tracestate {
  uint16_t len;   /* bytes used in buf, no NUL */
  uint8_t count;  /* members */
  char buf[RPCT_TRACESTATE_MAX_LEN];
} rpct_tracestate;

/*
 * Parse one tracestate header value (`s`, `len` bytes, borrowed) into `out`.
 * Strict, to the W3C Trace Context Level 2 grammar (a key is 1 to 256 of
 * a-z 0-9 _ - * / @, starting with a letter or digit): a bad key or value or
 * more than 32 members discards the whole value (`out` left empty,
 * RPCT_ERR_PARSE). A key seen again keeps its first (leftmost) entry and
 * drops the later ones. Empty members and white space around members are
 * accepted. A valid value longer
 * than RPCT_TRACESTATE_MAX_LEN is truncated: members over 128 characters are
 * dropped first, from the end, then members from the end, until it fits
 * (so a valid value can yield RPCT_OK and fewer members). Invalid input is
 * never reported through the diag handler: it comes from peers, on every
 * request. A NULL `s` or `out` is RPCT_ERR_INVALID_ARGUMENT (`out`, if given,
 * emptied). `s` may point into `out->buf`.
 */
RPCT_API int rpct_tracestate_parse(const char *s, size_t len, rpct_tracestate *out);

/* The same for a header that arrived as several values (one per metadata
 * entry), combined in order as if joined by ','. `values[i]` has `lens[i]`
 * bytes; all borrowed. n == 0 gives the empty tracestate. */
RPCT_API int rpct_tracestate_parse_multi(const char *const *values, const size_t *lens, size_t n,
                                         rpct_tracestate *out);

/* Look up `key` (NUL-terminated). On success `*value` points into `ts` (valid
 * while `ts` is unchanged) and `*value_len` is its length.
 * RPCT_ERR_NOT_FOUND if absent (then *value = NULL, *value_len = 0). */
RPCT_API int rpct_tracestate_get(const rpct_tracestate *ts, const char *key, const char **value,
                                 size_t *value_len);

/* Insert or update `key`=`value` (both NUL-terminated, copied) and move it to
 * the front, as a vendor updating its entry must. Truncates from the end
 * when the result would exceed the limits. RPCT_ERR_PARSE for an invalid key
 * or value, RPCT_ERR_NO_SPACE when the member alone exceeds 512 characters
 * (ts unchanged in both cases). */
RPCT_API int rpct_tracestate_set(rpct_tracestate *ts, const char *key, const char *value);

/* Remove `key`. RPCT_ERR_NOT_FOUND if absent. */
RPCT_API int rpct_tracestate_delete(rpct_tracestate *ts, const char *key);

/*
 * Span context: what crosses process boundaries. A zero-filled struct is the
 * invalid context (no parent). `remote` is true when it was extracted from
 * an inbound request.
 */
typedef struct rpct_span_context {
  rpct_trace_id trace_id;
  rpct_span_id span_id;
  uint8_t flags; /* RPCT_TRACE_FLAG_* */
  bool remote;
  rpct_tracestate tracestate;
} rpct_span_context;

/* True when both ids are valid (non-zero). NULL is invalid. */
RPCT_API bool rpct_span_context_is_valid(const rpct_span_context *ctx);
RPCT_API bool rpct_span_context_is_sampled(const rpct_span_context *ctx);

/*
 * W3C traceparent: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
 */
#define RPCT_TRACEPARENT_LEN 55

/*
 * Parse a traceparent header value (`s`, `len` bytes, borrowed; leading and
 * trailing spaces and tabs ignored) into `out`: ids, known flags,
 * remote = true, empty tracestate. Strict per W3C: lowercase hex only,
 * version ff invalid, version 00 exactly 55 characters, a higher version read
 * by its version-00 prefix when that is followed by '-' or the end, all-zero
 * ids invalid. On failure returns RPCT_ERR_PARSE and `out` is the invalid
 * context. Allocates nothing.
 */
RPCT_API int rpct_traceparent_parse(const char *s, size_t len, rpct_span_context *out);

/*
 * Format `ctx` as a version-00 traceparent into `buf` (caller-owned, `size`
 * bytes; 56 needed for the NUL). Only known flags are written.
 * Returns RPCT_TRACEPARENT_LEN, RPCT_ERR_NO_SPACE, or
 * RPCT_ERR_INVALID_ARGUMENT for an invalid context. Allocates nothing.
 */
RPCT_API int rpct_traceparent_format(const rpct_span_context *ctx, char *buf, size_t size);

/*
 * Log correlation: writes "trace_id=<32 hex> span_id=<16 hex> trace_flags=<2 hex>"
 * (81 characters) and a NUL into `buf` (`size` >= 82). For an invalid or NULL
 * context the ids are all zeros. Returns the length written or
 * RPCT_ERR_NO_SPACE.
 */
#define RPCT_LOG_IDS_LEN 81
RPCT_API int rpct_span_context_format_log(const rpct_span_context *ctx, char *buf, size_t size);

/*
 * The thread's current context: spans started without an explicit parent
 * become its children. attach() pushes `ctx` (borrowed: it must stay valid
 * and unchanged until the matching detach) and returns a token; detach()
 * restores what was current before. Detaching out of order is refused with
 * RPCT_ERR_STATE and changes nothing. Nesting deeper than
 * RPCT_CONTEXT_MAX_DEPTH returns a token whose detach is a no-op and leaves
 * the current context unchanged (reported once through the diag handler).
 */
#define RPCT_CONTEXT_MAX_DEPTH 64

typedef struct rpct_context_token {
  uint32_t depth; /* private */
} rpct_context_token;

RPCT_API rpct_context_token rpct_context_attach(const rpct_span_context *ctx);
RPCT_API int rpct_context_detach(rpct_context_token token);
/* The current context of this thread, or NULL when none is attached. */
RPCT_API const rpct_span_context *rpct_context_current(void);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_CONTEXT_H */
