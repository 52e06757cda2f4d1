/*
 * The server tracing filter: one SERVER span per traced call, continuing
 * the trace the request's metadata carries (the configured propagators, in
 * order, first valid context wins) or, in public-endpoint mode, starting a
 * new trace that links to it. A missing or malformed header never fails
 * anything: the span is then a new root.
 *
 * grpc-trace-bin is not among the headers read: gRPC core 1.51 parses it
 * into a typed slot of its metadata batch and leaves it out of the array it
 * hands to the application (PublishToAppEncoder in surface/call.cc; no C
 * API exposes it, and the census context hooks only return what a census
 * filter set, which core no longer has). A server here never sees it, so
 * it extracts nothing from it rather than pretend; the client filter still
 * injects it for peers that read it (gRPC C++/Go/Java with OpenCensus).
 *
 * The inbound baggage is handed to the dispatcher (info->baggage) for the
 * client calls the handler makes, except on a public endpoint: there the
 * caller is not trusted with the trace, nor with entries every downstream
 * service would read (an identity, a tenant, a feature flag), so its
 * baggage is dropped unless RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE=keep.
 * The baggage must outlive this callback, and no call may malloc, so it
 * is copied (canonical form, after parsing) into the call's arena with
 * grpc_call_arena_alloc, freed with the call. Without a
 * grpc_call (unit tests) it goes into a fixed buffer in call_data instead,
 * and baggage too long for that buffer is dropped, never cut: a cut member
 * would be a different member.
 *
 * The span itself is recorded as facts (rpc_span.h): its attributes are
 * written on the export thread. Nothing else is allocated per call except
 * the peer string gRPC core hands out.
 */
#include <string.h>

#include <grpc/grpc.h>

#include "internal.h"
#include "rpctrace/propagation.h"
#include "rpc_span.h"
#include "tracing.h"

#define BAGGAGE_BUF 512 /* call_data fallback when there is no grpc_call */
#define BAGGAGE_VALUES_MAX 64

/* Only the fields before `span` are zeroed per call (call_data_zeroed):
 * the span writes its own before reading them, and baggage_buf is used
 * only by length. */
typedef struct server_call {
  struct grpc_call *call;
  uint64_t end_unix_ns; /* when the status was sent; 0: unknown */
  rpct__rpc_span span;
  char baggage_buf[BAGGAGE_BUF];
} server_call;

/* The value of `key` when it occurs exactly once in md[0..n). */
static bool find_one(const rpct_md *md, size_t n, const char *key, const char **v, size_t *len) {
  size_t key_len = strlen(key), seen = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rpct__md_key_is(&md[i], key, key_len)) continue;
    *v = md[i].value ? md[i].value : "";
    *len = md[i].value_len;
    seen++;
  }
  if (seen != 1) *v = NULL, *len = 0;
  return seen == 1;
}

static bool extract_b3multi(const rpct_md *md, size_t n, rpct_span_context *out) {
  const char *v[4];
  size_t len[4];
  static const char *const keys[4] = {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"};
  for (size_t i = 0; i < 4; i++) find_one(md, n, keys[i], &v[i], &len[i]);
  return rpct_b3_parse_multi(v[0], len[0], v[1], len[1], v[2], len[2], v[3], len[3], out, NULL) ==
         RPCT_OK;
}

/* The first valid context of the configured propagators, in their order. */
static bool extract_context(const rpct__tracing_config *c, const rpct_md *md, size_t n,
                            rpct_span_context *out) {
  const char *v;
  size_t len;
  for (size_t i = 0; i < c->n_propagators; i++) {
    bool ok = false;
    switch ((rpct__propagator)c->propagators[i]) {
      case RPCT__PROP_TRACECONTEXT: ok = rpct__tracing_extract_tracecontext(md, n, out); break;
      case RPCT__PROP_B3:
        ok = find_one(md, n, "b3", &v, &len) && rpct_b3_parse_single(v, len, out, NULL) == RPCT_OK;
        break;
      case RPCT__PROP_B3MULTI: ok = extract_b3multi(md, n, out); break;
      default: break; /* grpc-trace-bin: injected only (see the top of the file) */
    }
    if (ok) return true;
  }
  memset(out, 0, offsetof(rpct_span_context, tracestate.buf));
  return false;
}

/* Parse every baggage value (combined in order) and keep the canonical
 * text where the dispatcher can hand it on (see the top of the file). */
static void keep_baggage(server_call *cd, const rpct_md *md, size_t n, rpct_call_info *info) {
  const char *values[BAGGAGE_VALUES_MAX];
  size_t lens[BAGGAGE_VALUES_MAX], k = 0;
  for (size_t i = 0; i < n && k < BAGGAGE_VALUES_MAX; i++) {
    if (!rpct__md_key_is(&md[i], RPCT__MD_BAGGAGE, sizeof RPCT__MD_BAGGAGE - 1)) continue;
    values[k] = md[i].value ? md[i].value : "";
    lens[k++] = md[i].value_len;
  }
  if (!k) return;
  rpct_baggage b;
  rpct_baggage_parse_multi(values, lens, k, &b); /* keeps whatever members are valid */
  if (!b.len) return;
  char *dst = NULL;
  if (info->call)
    dst = grpc_call_arena_alloc(info->call, b.len);
  else if (b.len <= sizeof cd->baggage_buf)
    dst = cd->baggage_buf;
  if (!dst) return;
  memcpy(dst, b.buf, b.len);
  info->baggage = dst;
  info->baggage_len = b.len;
}

static int server_start(void *call_data, rpct_call_info *info) {
  server_call *cd = call_data;
  const rpct__tracing_config *c = &rpct__tracing;
  rpct__method m;
  rpct__tracing_method(info->method, info->method_len, &m);
  if (!rpct__tracing_should_trace(c, &m)) return RPCT_FILTER_SKIP;
  m.other = rpct__tracing_method_is_other(c, &m, info->method_registration);

  const rpct_md *md = info->metadata;
  size_t n = md ? info->n_metadata : 0;
  rpct_span_context inbound;
  bool valid = extract_context(c, md, n, &inbound);

  /* Public endpoint: the caller's trace is not ours to continue; keep it
   * as a link. Either way the parent is explicit (invalid = new root). */
  bool link = valid && c->public_endpoint;
  if (rpct__rpc_span_start(&cd->span, c, RPCT_SIDE_SERVER, &m,
                           valid && !c->public_endpoint ? &inbound : NULL, link ? &inbound : NULL)) {
    rpct__rpc_span_server(&cd->span, info->authority, info->authority_len, false);
    rpct__rpc_span_metadata(&cd->span, &c->request_md, RPCT__MD_REQUEST, md, n);
    /* Now: after a cancellation core reports the peer as "unknown". */
    rpct__rpc_span_peer(&cd->span, info->call);
  }
  cd->call = info->call;
  if (rpct__tracing_propagator_on(c, RPCT__PROP_BAGGAGE) &&
      (!c->public_endpoint || c->public_endpoint_keeps_baggage))
    keep_baggage(cd, md, n, info);
  info->span_context = &cd->span.ctx;
  return RPCT_FILTER_FOLLOW;
}

static void server_message_sent(void *call_data, size_t bytes) {
  server_call *cd = call_data;
  rpct__rpc_span_message(&cd->span, &rpct__tracing, true, bytes);
}

static void server_message_received(void *call_data, size_t bytes) {
  server_call *cd = call_data;
  rpct__rpc_span_message(&cd->span, &rpct__tracing, false, bytes);
}

static void server_status(void *call_data, const rpct_call_status *st) {
  server_call *cd = call_data;
  rpct__rpc_span_status(&cd->span, st);
  cd->end_unix_ns = st->time_unix_ns;
}

static void server_end(void *call_data) {
  server_call *cd = call_data;
  /* The span ends when the status was sent, not when its completion was
   * seen (0 when unknown: now). */
  rpct__rpc_span_end(&cd->span, cd->end_unix_ns);
}

/* Return conventions: filter.h, at rpct_filter. recv_initial_metadata is
 * client-only in the dispatcher, and the server's response metadata never
 * reaches a filter, so RPCTRACE_GRPC_RESPONSE_METADATA applies to client
 * spans only. */
const rpct_filter rpct__server_tracing_filter = {
    .name = "rpctrace.server_tracing",
    .sides = RPCT_SIDE_SERVER,
    .call_data_size = sizeof(server_call),
    .call_data_zeroed = offsetof(server_call, span),
    .start = server_start,
    .message_sent = server_message_sent,
    .message_received = server_message_received,
    .status = server_status,
    .end = server_end,
};
