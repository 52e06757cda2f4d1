/*
 * The filter integration matrix: a C client and a C server (harness.h) over
 * loopback, one RPC per scenario, each RPC named by a unique x-test-id:
 * unary, client-, server- and bidirectional streaming, every status code,
 * deadline exceeded, client cancel mid-stream (grpc_call_cancel and
 * grpc_call_cancel_with_status), a call released without its status,
 * server shutdown mid-stream,
 * a handler's child call (parent_call), a health check (not traced), a
 * malformed inbound traceparent, an unknown method, an error status with
 * no message, a server method accepted as a registered method, and client
 * calls made with pluck and next queues, registered calls and small
 * integer tags.
 *
 * One source, built twice:
 * - filter_matrix_wrap: linked with rpctrace::wrap. By default it sets up a
 *   tracer whose simple processor feeds a memory exporter, calls
 *   rpct_init(tracer), runs the matrix and checks the spans itself
 *   (span_check.c). With --otlp-env it calls rpct_init(NULL) instead
 *   (tracing configured from OTEL_*), runs a smaller set in two rounds and
 *   flushes with rpct_shutdown; a test collector receives the spans.
 * - filter_matrix_plain (-DRPCT_UNTRACED): no rpctrace at all. Without
 *   options it checks that no tracing header goes over the wire. With
 *   --traced it is meant to run under LD_PRELOAD=librpctrace_preload.so and
 *   checks the headers the preloaded library adds.
 * In every mode the program checks what it can see itself (statuses,
 * messages, the headers the server received, that responses carry no
 * tracing header) and, with --expect FILE, writes one `rpc` line per RPC
 * (span_check.h) for filter_check to hold the exported spans against.
 *
 * Exit status 0 when every check passed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "harness.h"
#include "span_check.h"

#ifndef RPCT_UNTRACED
#include "rpctrace/rpctrace.h"
#endif

#define SPAN_NAME(m) ((m) + 1) /* "/pkg.Service/Method" -> "pkg.Service/Method" */
#define BAGGAGE "rpctrace.test=chain"
#define BAD_TRACEPARENT "00-xyz"

typedef struct matrix {
  th_server *srv;
  grpc_channel *ch;
  int port;
  bool traced;  /* a tracing library is in the process (wrap, or preload) */
  bool in_proc; /* spans are readable here (wrap + memory exporter) */
  bool basic;   /* the smaller set (--otlp-env) */
  sc_rpcs rpcs;
  int failures;
} matrix;

__attribute__((format(printf, 3, 4))) static void fail(matrix *m, const char *id, const char *fmt,
                                                       ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL [%s] ", id);
  vprintf(fmt, ap);
  putchar('\n');
  fflush(stdout);
  va_end(ap);
  m->failures++;
}

/* ---- the client span id the program can see (wrap builds) ---- */

typedef struct seen {
  char span_id[17];
} seen;

static void note_client_span(grpc_call *call, void *user) {
  seen *s = user;
#ifndef RPCT_UNTRACED
  const rpct_span_context *ctx = rpct_call_span_context(call);
  if (ctx)
    rpct_span_id_format(&ctx->span_id, s->span_id, sizeof s->span_id);
  else
    snprintf(s->span_id, sizeof s->span_id, "none");
#else
  (void)call;
  s->span_id[0] = '\0';
#endif
}

static th_call_opts opts(const char *id, seen *s) {
  th_call_opts o = {.test_id = id, .deadline_ms = 10000, .on_call = note_client_span, .user = s};
  memset(s, 0, sizeof *s);
  return o;
}

/* ---- recording and checking one RPC ---- */

typedef struct hdr_expect {
  const char *app_traceparent; /* sent by the application itself */
  const char *app_baggage;
  const char *propagated_baggage; /* carried on by the library from a parent call */
} hdr_expect;

/* What the client saw must be what the scenario asked for. */
static void expect_client(matrix *m, const char *id, const th_result *r, int code,
                          const char *details, int n_received, const char *last) {
  if ((int)r->status != code) fail(m, id, "client status %d \"%s\", want %d", r->status, r->details, code);
  else if (details && strcmp(r->details, details) != 0)
    fail(m, id, "client status message \"%s\", want \"%s\"", r->details, details);
  if (n_received >= 0 && r->n_received != n_received)
    fail(m, id, "client received %d messages, want %d", r->n_received, n_received);
  if (last && strcmp(r->last, last) != 0)
    fail(m, id, "client's last message \"%s\", want \"%s\"", r->last, last);
  if (r->tracing_in_response) fail(m, id, "the server's response metadata carries tracing headers");
}

/* The headers the server received for RPC `r`, once it is over. */
static void check_headers(matrix *m, th_server *srv, sc_rpc *r, const hdr_expect *h) {
  th_served e;
  int n = th_server_find(srv, r->id, &e);
  if (n != 1) {
    fail(m, r->id, "the server logged %d calls with this id, want 1", n);
    return;
  }
  if (!e.finished) fail(m, r->id, "the server call is not over");
  snprintf(r->traceparent, sizeof r->traceparent, "%s", e.traceparent);
  bool injects = m->traced && r->traced;
  if (h && h->app_traceparent) {
    if (e.n_traceparent != 1 || strcmp(e.traceparent, h->app_traceparent) != 0)
      fail(m, r->id, "server got %d traceparent (first \"%s\"), want the application's one \"%s\"",
           e.n_traceparent, e.traceparent, h->app_traceparent);
  } else if (injects) {
    if (e.n_traceparent != 1 || strlen(e.traceparent) != 55 || strncmp(e.traceparent, "00-", 3))
      fail(m, r->id, "server got %d traceparent (first \"%s\"), want one version-00 header",
           e.n_traceparent, e.traceparent);
  } else if (e.n_traceparent) {
    fail(m, r->id, "server got traceparent \"%s\" from an untraced client", e.traceparent);
  }
  if (e.n_tracestate)
    fail(m, r->id, "server got tracestate \"%s\", want none (no tracestate anywhere)", e.tracestate);
  const char *bag = h && h->app_baggage ? h->app_baggage
                    : h && h->propagated_baggage && injects ? h->propagated_baggage
                                                            : NULL;
  if (bag) {
    if (e.n_baggage != 1 || strcmp(e.baggage, bag) != 0)
      fail(m, r->id, "server got %d baggage (first \"%s\"), want \"%s\"", e.n_baggage, e.baggage,
           bag);
  } else if (e.n_baggage) {
    fail(m, r->id, "server got baggage \"%s\", want none", e.baggage);
  }
  if (e.n_other_tracing)
    fail(m, r->id, "server got %d b3/grpc-trace-bin headers, want none (default propagators)",
         e.n_other_tracing);
}

static sc_rpc *add_rpc(matrix *m, const char *id, const char *method, int port,
                       const th_result *res, const seen *s) {
  sc_rpc *r = sc_rpcs_add(&m->rpcs);
  snprintf(r->id, sizeof r->id, "%s", id);
  snprintf(r->name, sizeof r->name, "%s", SPAN_NAME(method));
  r->port = port;
  r->client_code = (int)res->status;
  snprintf(r->client_msg, sizeof r->client_msg, "%s", res->details);
  r->check_client_msg = 1;
  if (s) snprintf(r->client_span, sizeof r->client_span, "%s", s->span_id);
  printf("rpc %-22s client status %2d \"%s\"\n", id, res->status, res->details);
  fflush(stdout);
  return r;
}

static void settle(matrix *m, th_server *srv, const char *id) {
  if (!th_server_wait_idle(srv, 10000)) fail(m, id, "the server still has calls after 10 s");
}

/* ---- scenarios ---- */

static void unary_ok(matrix *m) {
  seen s;
  th_call_opts o = opts("unary.ok", &s);
  th_result res;
  th_unary(m->ch, "/test.Echo/Unary", "hello", &o, &res);
  expect_client(m, "unary.ok", &res, 0, "", 1, "hello");
  sc_rpc *r = add_rpc(m, "unary.ok", "/test.Echo/Unary", m->port, &res, &s);
  r->server_code = 0;
  settle(m, m->srv, r->id);
  check_headers(m, m->srv, r, NULL);
}

/* Every status code, returned by the handler; the client calls vary the
 * ways of completing a call (pluck, next, registered call, small tags). */
static void status_matrix(matrix *m) {
  for (int code = 0; code <= 16; code++) {
    if (m->basic && code != 0 && code != 5 && code != 13) continue;
    char id[64], req[128], msg[64] = "";
    snprintf(id, sizeof id, "unary.code.%d", code);
    if (code) snprintf(msg, sizeof msg, "message for code %d", code);
    snprintf(req, sizeof req, "status=%d;msg=%s", code, msg);
    seen s;
    th_call_opts o = opts(id, &s);
    o.use_next = code % 2 == 1;
    o.registered = code % 4 == 3;
    o.small_tags = code == 5 || code == 10;
    th_result res;
    th_unary(m->ch, "/test.Echo/Unary", req, &o, &res);
    expect_client(m, id, &res, code, msg, code ? 0 : 1, code ? "" : req);
    sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", m->port, &res, &s);
    r->server_code = code;
    snprintf(r->server_msg, sizeof r->server_msg, "%s", msg);
    settle(m, m->srv, id);
    check_headers(m, m->srv, r, NULL);
  }
}

/* An error status with no message: the spans' status messages are empty. */
static void empty_message(matrix *m) {
  const char *id = "unary.empty_msg";
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_unary(m->ch, "/test.Echo/Unary", "status=13", &o, &res);
  expect_client(m, id, &res, 13, "", 0, "");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", m->port, &res, &s);
  r->server_code = 13;
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* A server that accepts /test.Echo/Unary as a registered method
 * (grpc_server_request_registered_call, the C++ server's way), called with
 * and without a registered call on the client. */
static void registered_server(matrix *m) {
  th_server *srv3;
  th_server_options so = {.threads = 1, .registered_unary = true};
  if (th_server_start(&srv3, &so) != 0) {
    fail(m, "registered", "could not start a server");
    return;
  }
  int port = th_server_port(srv3);
  grpc_channel *ch3 = th_channel(port);
  for (int i = 0; i < 2; i++) {
    const char *id = i ? "registered.code.7" : "registered.ok";
    const char *req = i ? "status=7;msg=denied" : "hello";
    seen s;
    th_call_opts o = opts(id, &s);
    o.registered = i == 0;
    th_result res;
    th_unary(ch3, "/test.Echo/Unary", req, &o, &res);
    expect_client(m, id, &res, i ? 7 : 0, i ? "denied" : "", i ? 0 : 1, i ? "" : "hello");
    sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", port, &res, &s);
    r->server_code = i ? 7 : 0;
    r->server_authority = 0;
    snprintf(r->server_msg, sizeof r->server_msg, "%s", i ? "denied" : "");
    settle(m, srv3, id);
    check_headers(m, srv3, r, NULL);
  }
  grpc_channel_destroy(ch3);
  th_server_stop(srv3);
}

static void client_stream(matrix *m, const char *id, const char *const *msgs, size_t n, int code,
                          const char *msg) {
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_client_stream(m->ch, "/test.Echo/ClientStream", msgs, n, &o, &res);
  char body[32];
  snprintf(body, sizeof body, "count=%zu", n);
  expect_client(m, id, &res, code, msg, code ? 0 : 1, code ? "" : body);
  sc_rpc *r = add_rpc(m, id, "/test.Echo/ClientStream", m->port, &res, &s);
  r->server_code = code;
  snprintf(r->server_msg, sizeof r->server_msg, "%s", msg);
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

static void server_stream(matrix *m, const char *id, const char *req, int n, int code,
                          const char *msg, bool next) {
  seen s;
  th_call_opts o = opts(id, &s);
  o.use_next = next;
  th_result res;
  th_server_stream(m->ch, "/test.Echo/ServerStream", req, &o, &res);
  char last[32];
  snprintf(last, sizeof last, "msg %d", n - 1);
  expect_client(m, id, &res, code, msg, n, last);
  sc_rpc *r = add_rpc(m, id, "/test.Echo/ServerStream", m->port, &res, &s);
  r->server_code = code;
  snprintf(r->server_msg, sizeof r->server_msg, "%s", msg);
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

static void bidi(matrix *m, const char *id, const char *const *msgs, size_t n, int code,
                 const char *msg, bool next) {
  seen s;
  th_call_opts o = opts(id, &s);
  o.use_next = next;
  th_result res;
  th_bidi(m->ch, "/test.Echo/Bidi", msgs, n, &o, &res);
  expect_client(m, id, &res, code, msg, (int)n, msgs[n - 1]);
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Bidi", m->port, &res, &s);
  r->server_code = code;
  snprintf(r->server_msg, sizeof r->server_msg, "%s", msg);
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

static void streams(matrix *m) {
  static const char *const abc[] = {"a", "b", "c"};
  static const char *const cs_err[] = {"status=9;msg=precondition failed", "x"};
  static const char *const words[] = {"one", "two", "three"};
  static const char *const bidi_err[] = {"status=14;msg=try again later", "x"};
  client_stream(m, "cstream.ok", abc, 3, 0, "");
  server_stream(m, "sstream.ok", "n=3", 3, 0, "", false);
  bidi(m, "bidi.ok", words, 3, 0, "", true);
  if (m->basic) return;
  client_stream(m, "cstream.err", cs_err, 2, 9, "precondition failed");
  server_stream(m, "sstream.err", "n=2;status=13;msg=internal after 2", 2, 13,
                "internal after 2", true);
  bidi(m, "bidi.err", bidi_err, 2, 14, "try again later", false);
}

/* The handler replies 1 s after the call started, with a 100 ms deadline
 * (far apart, so a loaded machine cannot blur them). */
static void deadline(matrix *m) {
  const char *id = "unary.deadline";
  seen s;
  th_call_opts o = opts(id, &s);
  o.deadline_ms = 100;
  th_result res;
  long long t0 = th_now_ms();
  th_unary(m->ch, "/test.Echo/Unary", "sleep_ms=1000", &o, &res);
  long long took = th_now_ms() - t0;
  expect_client(m, id, &res, GRPC_STATUS_DEADLINE_EXCEEDED, NULL, 0, NULL);
  if (took >= 900) fail(m, id, "the call took %lld ms, its deadline was 100 ms", took);
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", m->port, &res, &s);
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* One message each way, then grpc_call_cancel. */
static void cancel_mid_stream(matrix *m) {
  const char *id = "bidi.cancel";
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_bidi_cancel(m->ch, "/test.Echo/Bidi", "first", 0, NULL, &o, &res);
  expect_client(m, id, &res, GRPC_STATUS_CANCELLED, NULL, 1, "first");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Bidi", m->port, &res, &s);
  /* The client span's message is the library's ("cancelled by the
   * application" or similar), not one the client received. */
  r->check_client_msg = 0;
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* grpc_call_cancel_with_status: the client span carries the given status. */
static void cancel_with_status(matrix *m) {
  const char *id = "bidi.cancel_status";
  seen s;
  th_call_opts o = opts(id, &s);
  o.use_next = true;
  th_result res;
  th_bidi_cancel(m->ch, "/test.Echo/Bidi", "first", GRPC_STATUS_ABORTED, "client gave up", &o,
                 &res);
  expect_client(m, id, &res, GRPC_STATUS_ABORTED, "client gave up", 1, "first");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Bidi", m->port, &res, &s);
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* The application releases a call it never asked the status of: the
 * client span still ends, once, as CANCELLED. */
static void abandoned(matrix *m) {
  const char *id = "unary.abandoned";
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_abandon(m->ch, "/test.Echo/Unary", "hold=1", &o, &res);
  res.status = GRPC_STATUS_CANCELLED; /* what the span must say */
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", m->port, &res, &s);
  r->check_client_msg = 0;
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* A server-streaming call in progress when its server shuts down. */
static void stop_server(int index, void *user) {
  if (index == 0) th_server_shutdown(user);
}

static void shutdown_mid_stream(matrix *m) {
  const char *id = "sstream.shutdown";
  th_server *srv2;
  if (th_server_start(&srv2, NULL) != 0) {
    fail(m, id, "could not start a second server");
    return;
  }
  grpc_channel *ch2 = th_channel(th_server_port(srv2));
  seen s;
  th_call_opts o = opts(id, &s);
  o.on_message = stop_server;
  o.user = srv2;
  /* on_call's user is on_message's too: note the span id by hand. */
  o.on_call = NULL;
  th_result res;
  th_server_stream(ch2, "/test.Echo/ServerStream", "n=1;hold=1", &o, &res);
  if (res.status == GRPC_STATUS_OK)
    fail(m, id, "client status OK after the server shut down mid-stream");
  expect_client(m, id, &res, (int)res.status, NULL, 1, "msg 0");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/ServerStream", th_server_port(srv2), &res, NULL);
  check_headers(m, srv2, r, NULL);
  grpc_channel_destroy(ch2);
  th_server_stop(srv2);
}

/* Client -> Chain handler -> child client call -> Unary handler. */
static void chain(matrix *m) {
  const char *id = "chain";
  seen s;
  th_call_opts o = opts(id, &s);
  grpc_metadata bag = {.key = grpc_slice_from_static_string("baggage"),
                       .value = grpc_slice_from_static_string(BAGGAGE)};
  o.extra = &bag;
  o.n_extra = 1;
  th_result res;
  th_unary(m->ch, "/test.Echo/Chain", "chain", &o, &res);
  expect_client(m, id, &res, 0, "", 1, "child=0");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Chain", m->port, &res, &s);
  r->server_code = 0;
  settle(m, m->srv, id);
  hdr_expect h = {.app_baggage = BAGGAGE};
  check_headers(m, m->srv, r, &h);

  th_served parent;
  th_server_find(m->srv, id, &parent);
  th_result child = {.status = (grpc_status_code)parent.child_status};
  if (parent.child_status != 0) fail(m, "chain.child", "child call status %d, want 0", parent.child_status);
  sc_rpc *c = add_rpc(m, "chain.child", "/test.Echo/Unary", m->port, &child, NULL);
  c->server_code = 0;
  snprintf(c->parent_rpc, sizeof c->parent_rpc, "%s", id);
  hdr_expect hc = {.propagated_baggage = BAGGAGE};
  check_headers(m, m->srv, c, &hc);
}

/* grpc.health.v1.Health is excluded from tracing by default. */
static void health(matrix *m) {
  const char *id = "health";
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_unary(m->ch, "/grpc.health.v1.Health/Check", "", &o, &res);
  expect_client(m, id, &res, 0, "", 1, NULL);
  sc_rpc *r = add_rpc(m, id, "/grpc.health.v1.Health/Check", m->port, &res, NULL);
  r->traced = 0;
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
#ifndef RPCT_UNTRACED
  if (m->traced && strcmp(s.span_id, "none") != 0)
    fail(m, id, "rpct_call_span_context gave span %s for an excluded method", s.span_id);
#endif
}

/* The client application sends "traceparent: 00-xyz" itself: a normal RPC,
 * the header not duplicated, the server span a new root. */
static void bad_traceparent(matrix *m) {
  const char *id = "bad.traceparent";
  seen s;
  th_call_opts o = opts(id, &s);
  grpc_metadata tp = {.key = grpc_slice_from_static_string("traceparent"),
                      .value = grpc_slice_from_static_string(BAD_TRACEPARENT)};
  o.extra = &tp;
  o.n_extra = 1;
  th_result res;
  th_unary(m->ch, "/test.Echo/Unary", "hello", &o, &res);
  expect_client(m, id, &res, 0, "", 1, "hello");
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Unary", m->port, &res, &s);
  r->server_code = 0;
  r->server_root = 1;
  settle(m, m->srv, id);
  hdr_expect h = {.app_traceparent = BAD_TRACEPARENT};
  check_headers(m, m->srv, r, &h);
}

static void unimplemented(matrix *m) {
  const char *id = "unimplemented";
  seen s;
  th_call_opts o = opts(id, &s);
  th_result res;
  th_unary(m->ch, "/test.Echo/Nope", "x", &o, &res);
  expect_client(m, id, &res, GRPC_STATUS_UNIMPLEMENTED, "no such method", 0, NULL);
  sc_rpc *r = add_rpc(m, id, "/test.Echo/Nope", m->port, &res, &s);
  r->server_code = GRPC_STATUS_UNIMPLEMENTED;
  snprintf(r->server_msg, sizeof r->server_msg, "no such method");
  settle(m, m->srv, id);
  check_headers(m, m->srv, r, NULL);
}

/* ---- spans from the memory exporter (wrap builds) ---- */

#ifndef RPCT_UNTRACED
typedef struct tracing {
  rpct_tracer *tracer;
  rpct_exporter *memory; /* owned by the tracer's processor */
} tracing;

static int tracing_new(tracing *t) {
  rpct_sampler *sampler = NULL;
  rpct_processor *proc = NULL;
  rpct_resource *res = NULL;
  rpct_tracer_options *o = NULL;
  if (rpct_sampler_always_on_new(&sampler, NULL) != RPCT_OK ||
      rpct_memory_exporter_new(&t->memory, NULL) != RPCT_OK ||
      rpct_simple_processor_new(&proc, t->memory, NULL) != RPCT_OK ||
      rpct_resource_new(&res, NULL) != RPCT_OK ||
      rpct_resource_set(res, "service.name", "filter-matrix") != RPCT_OK ||
      rpct_tracer_options_new(&o) != RPCT_OK)
    return -1;
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, proc);
  rpct_tracer_options_set_resource(o, res);
  int rc = rpct_tracer_new(&t->tracer, o);
  rpct_tracer_options_del(o);
  return rc == RPCT_OK ? 0 : -1;
}

static void to_model(const rpct_span_data *d, sc_span *s) {
  rpct_trace_id_format(&d->trace_id, s->trace_id, sizeof s->trace_id);
  rpct_span_id_format(&d->span_id, s->span_id, sizeof s->span_id);
  if (rpct_span_id_is_valid(&d->parent_span_id))
    rpct_span_id_format(&d->parent_span_id, s->parent_id, sizeof s->parent_id);
  s->kind = d->kind;
  s->status = d->status_code;
  snprintf(s->name, sizeof s->name, "%s", rpct_span_data_str(d, d->name));
  snprintf(s->status_msg, sizeof s->status_msg, "%s", rpct_span_data_str(d, d->status_message));
  for (uint16_t i = 0; i < d->n_attrs; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != RPCT_ATTR_OWNER_SPAN) continue;
    char v[SC_TEXT];
    char type = '?';
    switch (a->type) {
      case RPCT_VALUE_STRING:
        type = 's';
        snprintf(v, sizeof v, "%s", rpct_span_data_str(d, a->v.s));
        break;
      case RPCT_VALUE_INT:
        type = 'i';
        snprintf(v, sizeof v, "%lld", (long long)a->v.i);
        break;
      case RPCT_VALUE_BOOL:
        type = 'b';
        snprintf(v, sizeof v, "%s", a->v.b ? "true" : "false");
        break;
      case RPCT_VALUE_DOUBLE:
        type = 'd';
        snprintf(v, sizeof v, "%.17g", a->v.d);
        break;
      case RPCT_VALUE_STRING_ARRAY: {
        type = 'a';
        size_t cursor = 0, len, used = 0;
        const char *e;
        v[0] = '\0';
        while (rpct_span_attr_array_next(d, a, &cursor, &e, &len) && used < sizeof v)
          used += (size_t)snprintf(v + used, sizeof v - used, "%s%s", used ? "," : "", e);
        break;
      }
      default: v[0] = '\0'; break;
    }
    sc_span_attr(s, rpct_span_data_str(d, a->key), type, v);
  }
}

static void check_spans_in_process(matrix *m, tracing *t, const char *spans_out) {
  rpct_tracer_force_flush(t->tracer, 5000);
  sc_spans spans = {0};
  rpct_span_data *d = malloc(sizeof *d);
  if (!d) abort();
  size_t n = rpct_memory_exporter_count(t->memory);
  for (size_t i = 0; i < n; i++) {
    if (rpct_memory_exporter_get(t->memory, i, d) != RPCT_OK) {
      fail(m, "-", "memory exporter: span %zu unreadable", i);
      continue;
    }
    to_model(d, sc_spans_add(&spans));
  }
  free(d);
  if (spans_out) {
    FILE *f = fopen(spans_out, "w");
    if (f) {
      for (size_t i = 0; i < spans.n; i++) sc_write_span(f, &spans.v[i]);
      fclose(f);
    }
  }
  int problems = sc_check(&spans, &m->rpcs, stdout);
  printf("spans: %zu exported, %d problems\n", spans.n, problems);
  m->failures += problems;
  rpct_tracer_stats st;
  rpct_tracer_get_stats(t->tracer, &st);
  if (st.spans_ended_twice)
    fail(m, "-", "%llu spans were ended twice", (unsigned long long)st.spans_ended_twice);
  if (st.spans_started != st.spans_ended)
    fail(m, "-", "%llu spans started, %llu ended", (unsigned long long)st.spans_started,
         (unsigned long long)st.spans_ended);
  sc_spans_free(&spans);
}
#endif

/* ---- main ---- */

static void usage(void) {
  fputs("usage: filter_matrix [--traced] [--otlp-env] [--expect FILE] [--spans-out FILE]\n",
        stderr);
  exit(2);
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  const char *expect_out = NULL, *spans_out = NULL;
  bool otlp_env = false, traced_flag = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect_out = argv[++i];
    else if (!strcmp(argv[i], "--spans-out") && i + 1 < argc) spans_out = argv[++i];
    else if (!strcmp(argv[i], "--otlp-env")) otlp_env = true;
    else if (!strcmp(argv[i], "--traced")) traced_flag = true;
    else usage();
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  matrix m = {0};
#ifdef RPCT_UNTRACED
  if (otlp_env || spans_out) usage();
  m.traced = traced_flag;
  printf("filter_matrix (untraced build): %s\n",
         m.traced ? "expecting a preloaded tracing library" : "expecting no tracing headers");
#else
  (void)traced_flag;
  m.traced = true;
  m.basic = otlp_env;
  tracing t = {0};
  /* Spans name their RPC through this request header. */
  setenv("RPCTRACE_GRPC_REQUEST_METADATA", "x-test-id", 1);
  /* The harness server registers test.Echo/Unary and serves the other
   * methods through grpc_server_request_call. */
  setenv("RPCTRACE_GRPC_KNOWN_METHODS", "test.Echo", 1);
  if (otlp_env) {
    if (rpct_init(NULL) != RPCT_OK) {
      puts("FAIL rpct_init(NULL)");
      return 1;
    }
  } else {
    m.in_proc = true;
    if (tracing_new(&t) != 0 || rpct_init(t.tracer) != RPCT_OK) {
      puts("FAIL setting up tracing");
      return 1;
    }
  }
#endif

  th_server_options so = {.threads = 2, .requests = 4};
  if (th_server_start(&m.srv, &so) != 0) {
    puts("FAIL could not start the server");
    return 1;
  }
  m.port = th_server_port(m.srv);
  m.ch = th_channel(m.port);
  printf("server on 127.0.0.1:%d\n", m.port);

  unary_ok(&m);
  status_matrix(&m);
  streams(&m);
  chain(&m);
  health(&m);
  if (m.basic) {
    /* A second round after the first has been exported: an exporter call
     * that were traced would show up in it. */
    sleep_ms(400);
    bad_traceparent(&m);
  } else {
    empty_message(&m);
    registered_server(&m);
    deadline(&m);
    cancel_mid_stream(&m);
    cancel_with_status(&m);
    abandoned(&m);
    bad_traceparent(&m);
    unimplemented(&m);
    shutdown_mid_stream(&m);
  }

  grpc_channel_destroy(m.ch);
  th_server_stop(m.srv);

  if (expect_out) {
    FILE *f = fopen(expect_out, "w");
    if (!f) {
      printf("FAIL cannot write %s\n", expect_out);
      return 1;
    }
    for (size_t i = 0; i < m.rpcs.n; i++) sc_write_rpc(f, &m.rpcs.v[i]);
    fclose(f);
  }
#ifndef RPCT_UNTRACED
  if (m.in_proc) {
    check_spans_in_process(&m, &t, spans_out);
    rpct_shutdown(5000);
    rpct_tracer_del(t.tracer);
  } else {
    rpct_shutdown(5000);
  }
#endif
  printf("%zu RPCs, %d failures\n", m.rpcs.n, m.failures);
  sc_rpcs_free(&m.rpcs);
  return m.failures ? 1 : 0;
}
