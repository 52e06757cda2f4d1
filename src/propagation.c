/*
 * B3 (single and multi header) and grpc-trace-bin: parsing into and
 * formatting from a span context. Strict and allocation-free; the rules are
 * in propagation.h. W3C baggage, which has no span context, is baggage.c.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* A failed parse leaves the invalid context: ids and flags zero, not remote,
 * empty tracestate. The tracestate text is left as is: its len of 0 makes
 * it empty, and clearing 512 bytes per request would be wasted. */
static void invalidate(rpct_span_context *out) {
  memset(out, 0, offsetof(rpct_span_context, tracestate.buf));
}

static void set_remote(rpct_span_context *out, const rpct_trace_id *tid, const rpct_span_id *sid,
                       uint8_t flags) {
  out->trace_id = *tid;
  out->span_id = *sid;
  out->flags = flags;
  out->remote = true;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* HTTP field values exclude the white space around them (RFC 7230 3.2.4). */
static void trim_ows(const char **s, size_t *len) {
  while (*len > 0 && is_ows((*s)[0])) (*s)++, (*len)--;
  while (*len > 0 && is_ows((*s)[*len - 1])) (*len)--;
}

static bool str_is(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return len == n && memcmp(s, lit, n) == 0;
}

/* ======================================================================
 * B3
 * ====================================================================== */

/* 32 lowercase hex digits, or 16 naming the low 64 bits of a 128-bit id
 * whose high bits are zero. Validity (non-zero) is checked by the caller. */
static bool b3_trace_id(const char *s, size_t n, rpct_trace_id *out) {
  memset(out, 0, sizeof *out);
  if (n == RPCT_TRACE_ID_HEX_LEN) return rpct__hex_decode(s, 16, out->bytes);
  if (n == RPCT_SPAN_ID_HEX_LEN) return rpct__hex_decode(s, 8, out->bytes + 8);
  return false;
}

static bool b3_span_id(const char *s, size_t n, rpct_span_id *out) {
  return n == RPCT_SPAN_ID_HEX_LEN && rpct__hex_decode(s, 8, out->bytes);
}

/* SamplingState of the single header. */
static bool b3_sampling_char(char c, rpct_b3_sampling *st) {
  switch (c) {
    case '0': *st = RPCT_B3_SAMPLING_DENY; return true;
    case '1': *st = RPCT_B3_SAMPLING_ACCEPT; return true;
    case 'd': *st = RPCT_B3_SAMPLING_DEBUG; return true;
    default: return false;
  }
}

static uint8_t b3_flags(rpct_b3_sampling st) {
  return st == RPCT_B3_SAMPLING_ACCEPT || st == RPCT_B3_SAMPLING_DEBUG ? RPCT_TRACE_FLAG_SAMPLED
                                                                       : 0;
}

int rpct_b3_parse_single(const char *s, size_t len, rpct_span_context *out,
                         rpct_b3_sampling *sampling) {
  if (sampling) *sampling = RPCT_B3_SAMPLING_DEFERRED;
  if (out) invalidate(out);
  if (!s || !out) return RPCT_ERR_INVALID_ARGUMENT;
  trim_ows(&s, &len);

  rpct_b3_sampling st = RPCT_B3_SAMPLING_DEFERRED;
  if (len == 1) {
    /* The deny/accept/debug-only form: a decision, no context. */
    if (!b3_sampling_char(s[0], &st)) return RPCT_ERR_PARSE;
    if (sampling) *sampling = st;
    return RPCT_ERR_NOT_FOUND;
  }

  const char *end = s + len;
  const char *dash = memchr(s, '-', len);
  rpct_trace_id tid;
  rpct_span_id sid, parent;
  if (!dash || !b3_trace_id(s, (size_t)(dash - s), &tid)) return RPCT_ERR_PARSE;
  const char *p = dash + 1;
  size_t rest = (size_t)(end - p);
  if (rest < RPCT_SPAN_ID_HEX_LEN || !b3_span_id(p, RPCT_SPAN_ID_HEX_LEN, &sid))
    return RPCT_ERR_PARSE;
  p += RPCT_SPAN_ID_HEX_LEN;
  if (p < end) {
    /* "-" SamplingState, exactly one character. */
    if (end - p < 2 || p[0] != '-' || !b3_sampling_char(p[1], &st)) return RPCT_ERR_PARSE;
    p += 2;
  }
  if (p < end) {
    /* "-" ParentSpanId: checked, then ignored (the receiver's parent is
     * SpanId). */
    if ((size_t)(end - p) != 1 + RPCT_SPAN_ID_HEX_LEN || p[0] != '-' ||
        !b3_span_id(p + 1, RPCT_SPAN_ID_HEX_LEN, &parent) || !rpct_span_id_is_valid(&parent))
      return RPCT_ERR_PARSE;
  }
  if (!rpct_trace_id_is_valid(&tid) || !rpct_span_id_is_valid(&sid)) return RPCT_ERR_PARSE;

  set_remote(out, &tid, &sid, b3_flags(st));
  if (sampling) *sampling = st;
  return RPCT_OK;
}

/* X-B3-Sampled: "1"/"0", and the "true"/"false" of older implementations. */
static bool b3_sampled_header(const char *s, size_t len, rpct_b3_sampling *st) {
  if (str_is(s, len, "1") || str_is(s, len, "true")) {
    *st = RPCT_B3_SAMPLING_ACCEPT;
    return true;
  }
  if (str_is(s, len, "0") || str_is(s, len, "false")) {
    *st = RPCT_B3_SAMPLING_DENY;
    return true;
  }
  return false;
}

int rpct_b3_parse_multi(const char *trace_id, size_t trace_id_len, const char *span_id,
                        size_t span_id_len, const char *sampled, size_t sampled_len,
                        const char *flags, size_t flags_len, rpct_span_context *out,
                        rpct_b3_sampling *sampling) {
  if (sampling) *sampling = RPCT_B3_SAMPLING_DEFERRED;
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  invalidate(out);

  rpct_b3_sampling st = RPCT_B3_SAMPLING_DEFERRED;
  if (sampled) {
    trim_ows(&sampled, &sampled_len);
    if (!b3_sampled_header(sampled, sampled_len, &st)) return RPCT_ERR_PARSE;
  }
  if (flags) {
    trim_ows(&flags, &flags_len);
    /* Debug implies accept, whatever X-B3-Sampled said. */
    if (str_is(flags, flags_len, "1"))
      st = RPCT_B3_SAMPLING_DEBUG;
    else if (!str_is(flags, flags_len, "0"))
      return RPCT_ERR_PARSE;
  }
  if (!trace_id && !span_id) {
    if (sampling) *sampling = st;
    return RPCT_ERR_NOT_FOUND;
  }
  if (!trace_id || !span_id) return RPCT_ERR_PARSE;

  rpct_trace_id tid;
  rpct_span_id sid;
  trim_ows(&trace_id, &trace_id_len);
  trim_ows(&span_id, &span_id_len);
  if (!b3_trace_id(trace_id, trace_id_len, &tid) || !b3_span_id(span_id, span_id_len, &sid) ||
      !rpct_trace_id_is_valid(&tid) || !rpct_span_id_is_valid(&sid))
    return RPCT_ERR_PARSE;

  set_remote(out, &tid, &sid, b3_flags(st));
  if (sampling) *sampling = st;
  return RPCT_OK;
}

int rpct_b3_format_single(const rpct_span_context *ctx, char *buf, size_t size) {
  if (!rpct_span_context_is_valid(ctx)) return RPCT_ERR_INVALID_ARGUMENT;
  if (!buf || size < RPCT_B3_SINGLE_LEN + 1) return RPCT_ERR_NO_SPACE;
  char *p = buf;
  rpct__hex_encode(ctx->trace_id.bytes, 16, p), p += RPCT_TRACE_ID_HEX_LEN;
  *p++ = '-';
  rpct__hex_encode(ctx->span_id.bytes, 8, p), p += RPCT_SPAN_ID_HEX_LEN;
  *p++ = '-';
  *p++ = rpct_span_context_is_sampled(ctx) ? '1' : '0';
  *p = '\0';
  return (int)(p - buf);
}

int rpct_b3_format_multi(const rpct_span_context *ctx, rpct_b3_headers *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  out->trace_id[0] = out->span_id[0] = out->sampled[0] = '\0';
  if (!rpct_span_context_is_valid(ctx)) return RPCT_ERR_INVALID_ARGUMENT;
  rpct__hex_encode(ctx->trace_id.bytes, 16, out->trace_id);
  out->trace_id[RPCT_TRACE_ID_HEX_LEN] = '\0';
  rpct__hex_encode(ctx->span_id.bytes, 8, out->span_id);
  out->span_id[RPCT_SPAN_ID_HEX_LEN] = '\0';
  out->sampled[0] = rpct_span_context_is_sampled(ctx) ? '1' : '0';
  out->sampled[1] = '\0';
  return RPCT_OK;
}

/* ======================================================================
 * grpc-trace-bin
 * ====================================================================== */

enum {
  BIN_VERSION = 0,
  BIN_FIELD_TRACE_ID = 0,
  BIN_FIELD_SPAN_ID = 1,
  BIN_FIELD_OPTIONS = 2,
  /* Offsets of the field ids in the 29-byte layout. */
  BIN_AT_TRACE_ID = 1,
  BIN_AT_SPAN_ID = BIN_AT_TRACE_ID + 1 + 16,
  BIN_AT_OPTIONS = BIN_AT_SPAN_ID + 1 + 8,
};
_Static_assert(BIN_AT_OPTIONS + 2 == RPCT_GRPC_TRACE_BIN_LEN, "grpc-trace-bin layout");

int rpct_grpc_trace_bin_parse(const uint8_t *b, size_t len, rpct_span_context *out) {
  if (out) invalidate(out);
  if (!b || !out) return RPCT_ERR_INVALID_ARGUMENT;
  /* Fields are decoded in the order they were defined: the two ids must
   * come first, whole. */
  if (len < BIN_AT_OPTIONS || b[0] != BIN_VERSION || b[BIN_AT_TRACE_ID] != BIN_FIELD_TRACE_ID ||
      b[BIN_AT_SPAN_ID] != BIN_FIELD_SPAN_ID)
    return RPCT_ERR_PARSE;
  rpct_trace_id tid;
  rpct_span_id sid;
  memcpy(tid.bytes, b + BIN_AT_TRACE_ID + 1, sizeof tid.bytes);
  memcpy(sid.bytes, b + BIN_AT_SPAN_ID + 1, sizeof sid.bytes);
  /* Then options, if present. Any other id is one this version does not
   * know (or a repeat): decoding stops there, and the tail is ignored. */
  uint8_t options = 0;
  if (len > BIN_AT_OPTIONS && b[BIN_AT_OPTIONS] == BIN_FIELD_OPTIONS) {
    if (len < BIN_AT_OPTIONS + 2) return RPCT_ERR_PARSE; /* field cut short */
    options = b[BIN_AT_OPTIONS + 1];
  }
  if (!rpct_trace_id_is_valid(&tid) || !rpct_span_id_is_valid(&sid)) return RPCT_ERR_PARSE;
  set_remote(out, &tid, &sid, options & RPCT_TRACE_FLAG_SAMPLED);
  return RPCT_OK;
}

int rpct_grpc_trace_bin_format(const rpct_span_context *ctx, uint8_t out[RPCT_GRPC_TRACE_BIN_LEN]) {
  if (!out || !rpct_span_context_is_valid(ctx)) return RPCT_ERR_INVALID_ARGUMENT;
  out[0] = BIN_VERSION;
  out[BIN_AT_TRACE_ID] = BIN_FIELD_TRACE_ID;
  memcpy(out + BIN_AT_TRACE_ID + 1, ctx->trace_id.bytes, 16);
  out[BIN_AT_SPAN_ID] = BIN_FIELD_SPAN_ID;
  memcpy(out + BIN_AT_SPAN_ID + 1, ctx->span_id.bytes, 8);
  out[BIN_AT_OPTIONS] = BIN_FIELD_OPTIONS;
  out[BIN_AT_OPTIONS + 1] = rpct_span_context_is_sampled(ctx) ? 1 : 0;
  return RPCT_GRPC_TRACE_BIN_LEN;
}
