/*
 * Deferred spans (deferred.h): start and end on the RPC path, materialize
 * wherever the record is exported. Starting mirrors rpct_span_start_ex
 * (ids, sampler, counters) without touching a span record; ending hands the
 * record to the tracer.
 */
#include <string.h>

#include "deferred.h"
#include "internal.h"

bool rpct__deferred_start(rpct__deferred *d, size_t cap, size_t fixed, rpct_tracer *tracer,
                          const char *name,
                          rpct_span_kind kind, const rpct_span_context *parent,
                          rpct_span_context *ctx, rpct__deferred_build_fn build) {
  if (!rpct_span_context_is_valid(parent)) parent = NULL;
  /* Header only; the tracestate text is copied by length below. */
  memset(ctx, 0, offsetof(rpct_span_context, tracestate.buf));
  if (parent) {
    ctx->trace_id = parent->trace_id;
    ctx->flags = parent->flags & RPCT_TRACE_FLAG_RANDOM;
    ctx->tracestate.len = parent->tracestate.len;
    ctx->tracestate.count = parent->tracestate.count;
    memcpy(ctx->tracestate.buf, parent->tracestate.buf, parent->tracestate.len);
  }
  if (!tracer) {
    /* No SDK: carry the parent on, record nothing. */
    if (parent) ctx->span_id = parent->span_id, ctx->flags = parent->flags;
    return false;
  }
  if (!parent) {
    rpct_trace_id_generate(&ctx->trace_id);
    ctx->flags = RPCT_TRACE_FLAG_RANDOM;
  }
  rpct_span_id_generate(&ctx->span_id);

  rpct_sampling_params sp = {
      .parent = parent, .trace_id = &ctx->trace_id, .name = name, .kind = kind};
  rpct_sampling_decision decision = rpct__tracer_sample(tracer, &sp);
  if (decision == RPCT_SAMPLING_RECORD_AND_SAMPLE) ctx->flags |= RPCT_TRACE_FLAG_SAMPLED;
  if (decision == RPCT_SAMPLING_DROP) {
    rpct__tracer_count_not_recorded(tracer);
    return false;
  }

  /* Field by field: the facts area after the header is the caller's and
   * is never zeroed. */
  d->build = build;
  d->tracer = tracer;
  d->trace_id = ctx->trace_id;
  d->span_id = ctx->span_id;
  if (parent) {
    d->parent_span_id = parent->span_id;
    d->parent_remote = parent->remote;
  } else {
    memset(&d->parent_span_id, 0, sizeof d->parent_span_id);
    d->parent_remote = false;
  }
  d->flags = ctx->flags;
  d->kind = (uint8_t)kind;
  d->size = (uint16_t)(fixed < sizeof *d ? sizeof *d : fixed);
  d->tracestate_off = 0;
  d->tracestate_len = 0;
  d->start_unix_ns = rpct_now_unix_ns();
  d->end_unix_ns = 0;
  if (ctx->tracestate.len)
    d->tracestate_off = rpct__deferred_put(d, cap, ctx->tracestate.buf, ctx->tracestate.len,
                                           &d->tracestate_len);
  rpct__tracer_count_started(tracer);
  return true;
}

uint16_t rpct__deferred_put(rpct__deferred *d, size_t cap, const char *s, size_t len,
                            uint16_t *kept) {
  if (cap > RPCT__DEFERRED_MAX) cap = RPCT__DEFERRED_MAX;
  size_t at = d->size;
  *kept = 0;
  if (at + 1 >= cap) return 0; /* room for a NUL at least */
  size_t room = cap - at - 1;
  if (len > room) len = room;
  memcpy((char *)d + at, s, len);
  ((char *)d)[at + len] = '\0';
  d->size = (uint16_t)(at + len + 1);
  *kept = (uint16_t)len;
  return (uint16_t)at;
}

void rpct__deferred_end(rpct__deferred *d, uint64_t end_unix_ns) {
  d->end_unix_ns = end_unix_ns ? end_unix_ns : rpct_now_unix_ns();
  if (d->end_unix_ns < d->start_unix_ns) d->end_unix_ns = d->start_unix_ns;
  rpct__tracer_on_end_deferred(d->tracer, d);
}

void rpct__deferred_materialize(const rpct__deferred *d, rpct_span *scratch) {
  rpct__span_restore(scratch, d);
  d->build(d, scratch);
  rpct__span_finish_restored(scratch, d->end_unix_ns);
}
