/*
 * The thread's current span context: a per-thread stack of borrowed
 * pointers. Attaching costs a pointer store; nothing is copied.
 */
#include "internal.h"

#define OVERFLOW_TOKEN UINT32_MAX

static RPCT__TLS const rpct_span_context *ctx_stack[RPCT_CONTEXT_MAX_DEPTH];
static RPCT__TLS uint32_t ctx_depth;

rpct_context_token rpct_context_attach(const rpct_span_context *ctx) {
  if (RPCT__UNLIKELY(ctx_depth == RPCT_CONTEXT_MAX_DEPTH)) {
    rpct__diag_once("context-depth",
                    "context attached more than %d levels deep on one thread; "
                    "deeper attaches are ignored",
                    RPCT_CONTEXT_MAX_DEPTH);
    return (rpct_context_token){OVERFLOW_TOKEN};
  }
  ctx_stack[ctx_depth++] = ctx;
  return (rpct_context_token){ctx_depth};
}

int rpct_context_detach(rpct_context_token token) {
  if (token.depth == OVERFLOW_TOKEN) return RPCT_OK;
  if (token.depth == 0 || token.depth != ctx_depth) return RPCT_ERR_STATE;
  ctx_stack[--ctx_depth] = NULL;
  return RPCT_OK;
}

const rpct_span_context *rpct_context_current(void) {
  return ctx_depth ? ctx_stack[ctx_depth - 1] : NULL;
}
