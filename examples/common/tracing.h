/*
 * examples/common — rpctrace, or nothing.
 *
 * Normally this is <rpctrace/rpctrace.h>. Built with -DEX_UNTRACED (the
 * *_untraced programs of examples/CMakeLists.txt) it is a few no-op
 * stand-ins instead, for exactly the rpctrace calls the UserService example
 * and common/ make, so the same sources build into programs that neither
 * include nor link rpctrace: what `rpctrace run` (LD_PRELOAD) is for. There
 * tracing is off as far as the program knows: rpct_init() succeeds, spans
 * record nothing, a call has no span context, and log lines carry all-zero
 * ids, as they do for an untraced call.
 */
#ifndef EXAMPLES_COMMON_TRACING_H
#define EXAMPLES_COMMON_TRACING_H

#ifndef EX_UNTRACED

#include <rpctrace/rpctrace.h>

#else /* EX_UNTRACED */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <grpc/grpc.h>

#define RPCT_OK 0
#define RPCT_SPAN_KIND_INTERNAL 1
#define RPCT_LOG_IDS_LEN 81

typedef struct rpct_tracer rpct_tracer;             /* never defined: only NULL */
typedef struct rpct_span_context rpct_span_context; /* never defined: only NULL */
typedef struct rpct_span {
  char unused;
} rpct_span;

static inline int rpct_init(rpct_tracer *tracer) {
  (void)tracer;
  return RPCT_OK;
}

static inline void rpct_shutdown(uint32_t timeout_ms) { (void)timeout_ms; }

static inline const char *rpct_strerror(int err) {
  (void)err;
  return "rpctrace is not built in";
}

static inline const rpct_span_context *rpct_call_span_context(const grpc_call *call) {
  (void)call;
  return NULL;
}

static inline int rpct_span_start(rpct_span *span, rpct_tracer *tracer, const char *name,
                                  int kind, const rpct_span_context *parent) {
  (void)span, (void)tracer, (void)name, (void)kind, (void)parent;
  return RPCT_OK;
}

static inline int rpct_span_set_int(rpct_span *span, const char *key, int64_t value) {
  (void)span, (void)key, (void)value;
  return RPCT_OK;
}

static inline int rpct_span_set_bool(rpct_span *span, const char *key, bool value) {
  (void)span, (void)key, (void)value;
  return RPCT_OK;
}

static inline const rpct_span_context *rpct_span_get_context(const rpct_span *span) {
  (void)span;
  return NULL;
}

static inline int rpct_span_end(rpct_span *span, uint64_t end_unix_ns) {
  (void)span, (void)end_unix_ns;
  return RPCT_OK;
}

/* The ids of no span: all zeros, as rpctrace writes them for a NULL context. */
static inline int rpct_span_context_format_log(const rpct_span_context *ctx, char *buf,
                                               size_t size) {
  (void)ctx;
  if (!buf || size < RPCT_LOG_IDS_LEN + 1) return -1;
  return snprintf(buf, size, "trace_id=%032d span_id=%016d trace_flags=%02d", 0, 0, 0);
}

#endif /* EX_UNTRACED */

#endif /* EXAMPLES_COMMON_TRACING_H */
