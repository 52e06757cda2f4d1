/*
 * W3C traceparent: version "-" trace-id "-" parent-id "-" trace-flags.
 * Parsing is strict and allocation-free; see context.h for the rules.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* Offsets inside the version-00 layout. */
enum {
  TP_VERSION = 0,
  TP_TRACE_ID = 3,
  TP_PARENT_ID = 36,
  TP_FLAGS = 53,
};

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

int rpct_traceparent_parse(const char *s, size_t len, rpct_span_context *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  /* The tracestate text is left as is: its len of 0 makes it empty. */
  memset(out, 0, offsetof(rpct_span_context, tracestate.buf));
  if (!s) return RPCT_ERR_PARSE;

  while (len > 0 && is_ows(s[0])) s++, len--;
  while (len > 0 && is_ows(s[len - 1])) len--;
  if (len < RPCT_TRACEPARENT_LEN) return RPCT_ERR_PARSE;

  uint8_t version;
  if (!rpct__hex_decode(s + TP_VERSION, 1, &version) || version == 0xff) return RPCT_ERR_PARSE;
  /* Version 00 has exactly four fields. A later version may append fields,
   * but only after a '-': its first 55 characters are read as version 00. */
  if (version == 0 && len != RPCT_TRACEPARENT_LEN) return RPCT_ERR_PARSE;
  if (len > RPCT_TRACEPARENT_LEN && s[RPCT_TRACEPARENT_LEN] != '-') return RPCT_ERR_PARSE;
  if (s[TP_TRACE_ID - 1] != '-' || s[TP_PARENT_ID - 1] != '-' || s[TP_FLAGS - 1] != '-')
    return RPCT_ERR_PARSE;

  rpct_span_context ctx;
  uint8_t flags;
  if (!rpct__hex_decode(s + TP_TRACE_ID, 16, ctx.trace_id.bytes) ||
      !rpct__hex_decode(s + TP_PARENT_ID, 8, ctx.span_id.bytes) ||
      !rpct__hex_decode(s + TP_FLAGS, 1, &flags))
    return RPCT_ERR_PARSE;
  if (!rpct_trace_id_is_valid(&ctx.trace_id) || !rpct_span_id_is_valid(&ctx.span_id))
    return RPCT_ERR_PARSE;

  out->trace_id = ctx.trace_id;
  out->span_id = ctx.span_id;
  out->flags = flags & RPCT_TRACE_FLAGS_KNOWN;
  out->remote = true;
  return RPCT_OK;
}

int rpct_traceparent_format(const rpct_span_context *ctx, char *buf, size_t size) {
  if (!rpct_span_context_is_valid(ctx)) return RPCT_ERR_INVALID_ARGUMENT;
  if (!buf || size < RPCT_TRACEPARENT_LEN + 1) return RPCT_ERR_NO_SPACE;
  uint8_t flags = ctx->flags & RPCT_TRACE_FLAGS_KNOWN;
  buf[0] = '0';
  buf[1] = '0';
  buf[TP_TRACE_ID - 1] = '-';
  rpct__hex_encode(ctx->trace_id.bytes, 16, buf + TP_TRACE_ID);
  buf[TP_PARENT_ID - 1] = '-';
  rpct__hex_encode(ctx->span_id.bytes, 8, buf + TP_PARENT_ID);
  buf[TP_FLAGS - 1] = '-';
  rpct__hex_encode(&flags, 1, buf + TP_FLAGS);
  buf[RPCT_TRACEPARENT_LEN] = '\0';
  return RPCT_TRACEPARENT_LEN;
}

bool rpct_span_context_is_valid(const rpct_span_context *ctx) {
  return ctx && rpct_trace_id_is_valid(&ctx->trace_id) && rpct_span_id_is_valid(&ctx->span_id);
}

bool rpct_span_context_is_sampled(const rpct_span_context *ctx) {
  return ctx && (ctx->flags & RPCT_TRACE_FLAG_SAMPLED) != 0;
}

int rpct_span_context_format_log(const rpct_span_context *ctx, char *buf, size_t size) {
  static const char k_trace[] = "trace_id=", k_span[] = " span_id=", k_flags[] = " trace_flags=";
  if (!buf || size < RPCT_LOG_IDS_LEN + 1) return RPCT_ERR_NO_SPACE;
  static const rpct_span_context zero;
  if (!rpct_span_context_is_valid(ctx)) ctx = &zero;
  char *p = buf;
  memcpy(p, k_trace, sizeof k_trace - 1), p += sizeof k_trace - 1;
  rpct__hex_encode(ctx->trace_id.bytes, 16, p), p += 32;
  memcpy(p, k_span, sizeof k_span - 1), p += sizeof k_span - 1;
  rpct__hex_encode(ctx->span_id.bytes, 8, p), p += 16;
  memcpy(p, k_flags, sizeof k_flags - 1), p += sizeof k_flags - 1;
  uint8_t flags = ctx->flags & RPCT_TRACE_FLAGS_KNOWN;
  rpct__hex_encode(&flags, 1, p), p += 2;
  *p = '\0';
  return (int)(p - buf);
}
