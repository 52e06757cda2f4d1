/*
 * The client tracing filter: one CLIENT span per traced call, child of the
 * context the dispatcher gives (parent_call's span or the thread's current
 * context), its context injected into the request's initial metadata by
 * every configured propagator.
 *
 * Per call it costs the span's facts (rpc_span.h: its attributes are
 * written on the export thread) and the headers it formats on the stack;
 * nothing is allocated except the peer string gRPC core hands out at
 * status time. The call's span lives in call_data, in the call arena,
 * which the dispatcher zeroes only up to the span (call_data_zeroed).
 */
#include <string.h>

#include "internal.h"
#include "rpctrace/propagation.h"
#include "rpc_span.h"
#include "tracing.h"

typedef struct client_call {
  struct grpc_call *call; /* for grpc_call_get_peer at status time */
  const char *baggage;    /* the parent's, borrowed: valid for the call */
  size_t baggage_len;
  rpct__rpc_span span; /* not zeroed: writes its fields before reading them */
} client_call;

static int client_start(void *call_data, rpct_call_info *info) {
  client_call *cd = call_data;
  const rpct__tracing_config *c = &rpct__tracing;
  rpct__method m;
  rpct__tracing_method(info->method, info->method_len, &m);
  if (!rpct__tracing_should_trace(c, &m)) return RPCT_FILTER_SKIP;

  /* Always an explicit parent: the dispatcher already chose between the
   * parent call's span and the thread's current context. */
  if (rpct__rpc_span_start(&cd->span, c, RPCT_SIDE_CLIENT, &m, info->parent, NULL) &&
      info->target)
    rpct__rpc_span_server(&cd->span, info->target, strlen(info->target), true);
  cd->call = info->call;
  if (info->parent_baggage && info->parent_baggage_len) {
    cd->baggage = info->parent_baggage;
    cd->baggage_len = info->parent_baggage_len;
  }
  info->span_context = &cd->span.ctx;
  /* Calls made with this one as parent_call carry the same baggage on. */
  info->baggage = cd->baggage;
  info->baggage_len = cd->baggage_len;
  return RPCT_FILTER_FOLLOW;
}

/* An entry the application already sends is left alone (RPCT_ERR_STATE);
 * a full writer (RPCT_ERR_NO_SPACE) drops the header: tracing never fails
 * a call. */
static void add(rpct_md_writer *w, const char *key, const void *value, size_t len) {
  rpct_md_writer_add(w, key, strlen(key), value, len);
}

static void inject(const client_call *cd, const rpct_span_context *ctx, rpct__propagator p,
                   rpct_md_writer *w) {
  switch (p) {
    case RPCT__PROP_TRACECONTEXT: {
      char tp[RPCT_TRACEPARENT_LEN + 1];
      if (rpct_traceparent_format(ctx, tp, sizeof tp) != RPCT_TRACEPARENT_LEN) return;
      add(w, RPCT__MD_TRACEPARENT, tp, RPCT_TRACEPARENT_LEN);
      if (ctx->tracestate.len)
        add(w, RPCT__MD_TRACESTATE, ctx->tracestate.buf, ctx->tracestate.len);
      return;
    }
    case RPCT__PROP_BAGGAGE:
      if (cd->baggage_len) add(w, RPCT__MD_BAGGAGE, cd->baggage, cd->baggage_len);
      return;
    case RPCT__PROP_B3: {
      char b3[RPCT_B3_SINGLE_LEN + 1];
      if (rpct_b3_format_single(ctx, b3, sizeof b3) == RPCT_B3_SINGLE_LEN)
        add(w, "b3", b3, RPCT_B3_SINGLE_LEN);
      return;
    }
    case RPCT__PROP_B3MULTI: {
      rpct_b3_headers h;
      if (rpct_b3_format_multi(ctx, &h) != RPCT_OK) return;
      add(w, "x-b3-traceid", h.trace_id, strlen(h.trace_id));
      add(w, "x-b3-spanid", h.span_id, strlen(h.span_id));
      add(w, "x-b3-sampled", h.sampled, strlen(h.sampled));
      return;
    }
    case RPCT__PROP_GRPC_TRACE_BIN: {
      uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN];
      if (rpct_grpc_trace_bin_format(ctx, bin) == RPCT_GRPC_TRACE_BIN_LEN)
        add(w, "grpc-trace-bin", bin, sizeof bin);
      return;
    }
    default: return;
  }
}

/* The application's own request entries, as the allow-list reads them:
 * all of them (past 64, in the call's arena). */
static void record_request_metadata(const rpct__tracing_config *c, client_call *cd,
                                    const rpct_md_writer *w) {
  rpct_md stack[64], *md = stack;
  size_t cap = RPCT__ARRAY_LEN(stack), n = 0;
  if (w->n_app > cap && cd->call) {
    md = grpc_call_arena_alloc(cd->call, w->n_app * sizeof *md);
    cap = w->n_app;
  }
  for (size_t i = 0; i < w->n_app && n < cap; i++) {
    /* Through pointers: a short slice keeps its bytes inline, so a copy's
     * start pointer would point into this loop's stack frame. */
    const grpc_slice *k = &w->app[i].key, *v = &w->app[i].value;
    md[n++] = (rpct_md){.key = (const char *)GRPC_SLICE_START_PTR(*k),
                        .key_len = GRPC_SLICE_LENGTH(*k),
                        .value = (const char *)GRPC_SLICE_START_PTR(*v),
                        .value_len = GRPC_SLICE_LENGTH(*v)};
  }
  rpct__rpc_span_metadata(&cd->span, &c->request_md, RPCT__MD_REQUEST, md, n);
}

static void client_send_initial_metadata(void *call_data, rpct_md_writer *w) {
  client_call *cd = call_data;
  const rpct__tracing_config *c = &rpct__tracing;
  if (c->request_md.n && cd->span.recording) record_request_metadata(c, cd, w);
  /* Even a span that does not record has a context to pass on. */
  const rpct_span_context *ctx = &cd->span.ctx;
  for (size_t i = 0; i < c->n_propagators; i++) {
    rpct__propagator p = (rpct__propagator)c->propagators[i];
    if (p == RPCT__PROP_BAGGAGE || rpct_span_context_is_valid(ctx)) inject(cd, ctx, p, w);
  }
}

static void client_recv_initial_metadata(void *call_data, const rpct_md *md, size_t n) {
  client_call *cd = call_data;
  rpct__rpc_span_metadata(&cd->span, &rpct__tracing.response_md, RPCT__MD_RESPONSE_HEADER, md, n);
}

static void client_message_sent(void *call_data, size_t bytes) {
  client_call *cd = call_data;
  rpct__rpc_span_message(&cd->span, &rpct__tracing, true, bytes);
}

static void client_message_received(void *call_data, size_t bytes) {
  client_call *cd = call_data;
  rpct__rpc_span_message(&cd->span, &rpct__tracing, false, bytes);
}

static void client_status(void *call_data, const rpct_call_status *st) {
  client_call *cd = call_data;
  if (st->trailing)
    rpct__rpc_span_metadata(&cd->span, &rpct__tracing.response_md, RPCT__MD_RESPONSE_TRAILER,
                            st->trailing, st->n_trailing);
  rpct__rpc_span_peer(&cd->span, cd->call);
  rpct__rpc_span_status(&cd->span, st);
}

static void client_end(void *call_data) {
  client_call *cd = call_data;
  rpct__rpc_span_end(&cd->span, 0);
}

/* Return conventions: filter.h, at rpct_filter. */
const rpct_filter rpct__client_tracing_filter = {
    .name = "rpctrace.client_tracing",
    .sides = RPCT_SIDE_CLIENT,
    .call_data_size = sizeof(client_call),
    .call_data_zeroed = offsetof(client_call, span),
    .start = client_start,
    .send_initial_metadata = client_send_initial_metadata,
    .recv_initial_metadata = client_recv_initial_metadata,
    .message_sent = client_message_sent,
    .message_received = client_message_received,
    .status = client_status,
    .end = client_end,
};
