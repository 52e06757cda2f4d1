/*
 * Hostile and heavy calls over loopback (issue 9), traced through
 * rpctrace::wrap: a C client and the harness server (harness.h) in one
 * process, spans in a memory exporter unless said otherwise.
 *
 * - A client sends a :path and an :authority that are not UTF-8 (and a
 *   path longer than the dispatcher keeps): the spans, exported through
 *   the OTLP/gRPC exporter to a collector in this process, decode with a
 *   strict UTF-8 check of every string field, the bad bytes as U+FFFD and
 *   the long path cut on a character boundary; the spans of a good RPC in
 *   the same export are all there.
 * - A public endpoint does not pass the caller's baggage on to the calls
 *   its handler makes, unless RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE=keep.
 * - grpc-trace-bin never reaches a gRPC core server application, so the
 *   server continues a trace from tracecontext only (that the client's
 *   grpc-trace-bin reaches a peer that reads it: h2_peer.js, which runs
 *   this program with --h2-peer).
 * - More calls in flight than the dispatcher's table once held (16,384)
 *   are all traced, and a call made meanwhile gets its spans, not an error;
 *   under a (test) limit, calls beyond it are untraced and counted, exactly,
 *   and no span says ERROR.
 * - A traceparent after 100 other request entries is continued.
 * - 8 KB of baggage (the W3C limit) reaches the calls a handler makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "rpctrace/rpctrace.h"
#include "tables.h"
#include "test_util.h"

/* Internal, for the configuration the tests change (tracing.h). */
void rpct__tracing_configure(void);

#define FFFD "\xEF\xBF\xBD"
#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_SPAN "00f067aa0ba902b7"
#define TP_VALID "00-" TP_TRACE "-" TP_SPAN "-01"

static tu_tracer T;    /* always on, memory exporter: rpct_init's */
static th_server *srv; /* default options, one per test */
static grpc_channel *ch;

static const char *const ENV_VARS[] = {
    "OTEL_PROPAGATORS",
    "RPCTRACE_GRPC_PUBLIC_ENDPOINT",
    "RPCTRACE_GRPC_EXCLUDE",
    "RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE",
};

/* The filters' configuration is written while no thread may read it:
 * the server (whose threads run the server filter) is stopped first and
 * started again after, so that its threads are created after the write. A
 * write while they wait in gRPC would be a race ThreadSanitizer rightly
 * reports (gRPC's own ordering is invisible to it). */
static void serve(void) {
  assert_int_equal(th_server_start(&srv, NULL), 0);
  ch = th_channel(th_server_port(srv));
}

static void stop_serving(void) {
  if (!srv) return;
  grpc_channel_destroy(ch);
  th_server_stop(srv); /* joins its threads: every span of its calls has ended */
  srv = NULL;
  ch = NULL;
}

static void configure(const char *var, const char *value) {
  stop_serving();
  setenv(var, value, 1);
  rpct__tracing_configure();
  serve();
}

static void configure_defaults(void) {
  for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++) unsetenv(ENV_VARS[i]);
  rpct__tracing_configure();
}

static int group_setup(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++) unsetenv(ENV_VARS[i]);
  T = tu_tracer_new(NULL, NULL);
  if (rpct_init(T.tracer) != RPCT_OK) return -1;
  grpc_init(); /* held across the tests' servers, each of which inits and shuts down */
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  grpc_shutdown();
  rpct_shutdown(1000);
  rpct_tracer_del(T.tracer);
  return 0;
}

static int setup(void **state) {
  (void)state;
  configure_defaults();
  rpct_memory_exporter_clear(T.memory);
  serve();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  stop_serving();
  configure_defaults();
  rpct_tracer_set_global(T.tracer);
  return 0;
}

/* ---- reading spans ---- */

static const char *hex(const uint8_t *b, size_t n) {
  static char out[4][33];
  static int which;
  which = (which + 1) % 4;
  tu_hex(b, n, out[which]);
  return out[which];
}

/* Spans of the memory exporter, once the server is idle (a server span
 * ends on the server's thread after the client has its status). */
static size_t settled_spans(size_t want) {
  assert_true(th_server_wait_idle(srv, 10000));
  for (int i = 0; i < 500 && rpct_memory_exporter_count(T.memory) < want; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return rpct_memory_exporter_count(T.memory);
}

static void span_at(size_t i, rpct_span_data *out) {
  assert_int_equal(rpct_memory_exporter_get(T.memory, i, out), RPCT_OK);
}

static const rpct_span_data *span_of_kind(int kind) {
  static rpct_span_data d[2];
  static int which;
  which ^= 1;
  for (size_t i = 0; i < rpct_memory_exporter_count(T.memory); i++) {
    span_at(i, &d[which]);
    if (d[which].kind == kind) return &d[which];
  }
  fail_msg("no span of kind %d", kind);
  return NULL;
}

/* ---- calls the harness does not make ---- */

/* A unary call with the given path and :authority bytes, as any HTTP/2
 * client could send them (gRPC core passes both through unchecked). */
static grpc_status_code raw_unary(const char *method, size_t method_len, const char *host,
                                  size_t host_len) {
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice m = grpc_slice_from_copied_buffer(method, method_len);
  grpc_slice h = grpc_slice_from_copied_buffer(host, host_len);
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(10, GPR_TIMESPAN));
  grpc_call *call =
      grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, &h, deadline, NULL);
  assert_non_null(call);
  grpc_byte_buffer *req = NULL;
  grpc_slice body = grpc_slice_from_static_string("x");
  req = grpc_raw_byte_buffer_create(&body, 1);
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_status_code status = GRPC_STATUS_OK;
  grpc_slice details;
  grpc_op ops[5];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[4].data.recv_status_on_client.status = &status;
  ops[4].data.recv_status_on_client.status_details = &details;
  ops[4].data.recv_status_on_client.trailing_metadata = &trailing;
  assert_int_equal(grpc_call_start_batch(call, ops, 5, (void *)1, NULL), GRPC_CALL_OK);
  grpc_event ev =
      grpc_completion_queue_pluck(cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  assert_int_equal(ev.type, GRPC_OP_COMPLETE);
  grpc_byte_buffer_destroy(req);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_call_unref(call);
  grpc_slice_unref(m);
  grpc_slice_unref(h);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  return status;
}

/* ====================================================================
 * Non-UTF-8 input, exported as OTLP protobuf
 * ==================================================================== */

/* A collector in this process: serves Export on a thread of its own and
 * keeps each request's bytes as they came. Its calls are excluded from
 * tracing (RPCTRACE_GRPC_EXCLUDE), as a collector in another process would
 * be. */
#define EXPORT_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define MAX_REQUESTS 8

typedef struct collector {
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t thread;
  int port;
  pthread_mutex_t lock;
  grpc_byte_buffer *requests[MAX_REQUESTS];
  int n_requests;
} collector;

static bool collector_wait(collector *c, void *tag) {
  grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (ev.type != GRPC_OP_COMPLETE || ev.tag != tag) return false;
  return ev.success != 0;
}

static void *collector_main(void *arg) {
  collector *c = arg;
  for (;;) {
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&md);
    grpc_server_request_call(c->server, &call, &details, &md, c->cq, c->cq, (void *)1);
    bool got = collector_wait(c, (void *)1);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&md);
    if (!got) break; /* shutting down */
    grpc_byte_buffer *req = NULL;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &req;
    grpc_call_start_batch(call, ops, 2, (void *)2, NULL);
    collector_wait(c, (void *)2);
    pthread_mutex_lock(&c->lock);
    if (req && c->n_requests < MAX_REQUESTS)
      c->requests[c->n_requests++] = req;
    else if (req)
      grpc_byte_buffer_destroy(req);
    pthread_mutex_unlock(&c->lock);
    grpc_byte_buffer *resp = grpc_raw_byte_buffer_create(NULL, 0); /* an empty response */
    int cancelled = 0;
    memset(ops, 0, sizeof ops);
    grpc_op out[3];
    memset(out, 0, sizeof out);
    out[0].op = GRPC_OP_SEND_MESSAGE;
    out[0].data.send_message.send_message = resp;
    out[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    out[1].data.send_status_from_server.status = GRPC_STATUS_OK;
    out[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    out[2].data.recv_close_on_server.cancelled = &cancelled;
    grpc_call_start_batch(call, out, 3, (void *)3, NULL);
    collector_wait(c, (void *)3);
    grpc_byte_buffer_destroy(resp);
    grpc_call_unref(call);
  }
  return NULL;
}

static void collector_start(collector *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  c->server = grpc_server_create(NULL, NULL);
  c->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(c->server, c->cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  c->port = grpc_server_add_http2_port(c->server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  assert_true(c->port > 0);
  grpc_server_start(c->server);
  assert_int_equal(pthread_create(&c->thread, NULL, collector_main, c), 0);
}

static void collector_stop(collector *c) {
  grpc_server_shutdown_and_notify(c->server, c->cq, (void *)9);
  grpc_server_cancel_all_calls(c->server);
  pthread_join(c->thread, NULL); /* its request-call fails: it stops */
  grpc_event ev;
  do {
    ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  } while (ev.type == GRPC_OP_COMPLETE && ev.tag != (void *)9);
  grpc_server_destroy(c->server);
  grpc_completion_queue_shutdown(c->cq);
  while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(c->cq);
  for (int i = 0; i < c->n_requests; i++) grpc_byte_buffer_destroy(c->requests[i]);
  pthread_mutex_destroy(&c->lock);
}

/* UTF-8 as RFC 3629 defines it, decoded code point by code point: written
 * here, apart from rpctrace's own validator, so the two can disagree. */
static bool strict_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint32_t c = s[i], min;
    size_t len;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, c &= 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (len > n - i) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      c = c << 6 | (s[i + k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/* Every `string` field of `m` and of every message under it, through the
 * descriptors: no field is forgotten, whatever the schema adds. Returns how
 * many strings it checked; a bad one fails the test, naming its field. */
static size_t check_strings(const ProtobufCMessage *m) {
  size_t checked = 0;
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const char *base = (const char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id)
      continue;
    size_t count = 1;
    const void *at = base + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      count = *(const size_t *)(base + f->quantifier_offset);
      at = *(void *const *)at;
    }
    for (size_t k = 0; k < count; k++) {
      if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s =
            f->label == PROTOBUF_C_LABEL_REPEATED ? ((char *const *)at)[k] : *(char *const *)at;
        if (!s) continue;
        if (!strict_utf8((const unsigned char *)s, strlen(s)))
          fail_msg("%s.%s is not UTF-8: \"%s\"", d->name, f->name, s);
        checked++;
      } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = f->label == PROTOBUF_C_LABEL_REPEATED
                                          ? ((ProtobufCMessage *const *)at)[k]
                                          : *(ProtobufCMessage *const *)at;
        if (sub) checked += check_strings(sub);
      }
    }
  }
  return checked;
}

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest otlp_request;
typedef Opentelemetry__Proto__Trace__V1__Span otlp_span;

static otlp_request *decode(grpc_byte_buffer *bb) {
  grpc_byte_buffer_reader r;
  assert_true(grpc_byte_buffer_reader_init(&r, bb));
  grpc_slice all = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  otlp_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
          NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  assert_non_null(req);
  return req;
}

static const char *string_attr(const otlp_span *s, const char *key) {
  for (size_t i = 0; i < s->n_attributes; i++)
    if (strcmp(s->attributes[i]->key, key) == 0) return s->attributes[i]->value->string_value;
  return NULL;
}

static void test_non_utf8_path_and_authority_export_as_valid_utf8(void **state) {
  (void)state;
  configure("RPCTRACE_GRPC_EXCLUDE", "opentelemetry.proto.collector.trace.v1.TraceService");
  collector col;
  collector_start(&col);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", col.port);
  rpct_otlp_options oo = {.endpoint = endpoint, .timeout_ms = 10000};
  rpct_exporter *otlp;
  assert_int_equal(rpct_otlp_exporter_new(&otlp, &oo, NULL), RPCT_OK);
  rpct_processor *proc;
  rpct_batch_options bo = {.schedule_delay_ms = 60000};
  assert_int_equal(rpct_batch_processor_new(&proc, otlp, &bo, NULL), RPCT_OK);
  rpct_tracer_options *to;
  assert_int_equal(rpct_tracer_options_new(&to), RPCT_OK);
  rpct_tracer_options_set_processor(to, proc);
  rpct_tracer *tracer;
  assert_int_equal(rpct_tracer_new(&tracer, to), RPCT_OK);
  rpct_tracer_options_del(to);
  rpct_tracer_set_global(tracer);

  /* 0xFF, an overlong '/', a surrogate, a truncated sequence. */
  static const char bad_path[] = "/test.Echo/\xFF\xC0\xAF\xED\xA0\x80\xE2\x82";
  static const char bad_host[] = "h\xFF\xFE:8443";
  assert_int_equal(raw_unary(bad_path, sizeof bad_path - 1, bad_host, sizeof bad_host - 1),
                   GRPC_STATUS_UNIMPLEMENTED);
  /* A path past the 255 bytes the dispatcher keeps, a 3-byte character
   * across the cut: "/test.Echo/" and 100 euro signs. */
  char long_path[12 + 300];
  strcpy(long_path, "/test.Echo/");
  for (int i = 0; i < 100; i++) strcat(long_path, "\xE2\x82\xAC");
  assert_int_equal(raw_unary(long_path, strlen(long_path), "localhost", 9),
                   GRPC_STATUS_UNIMPLEMENTED);
  th_result r;
  assert_int_equal(th_unary(ch, "/test.Echo/Unary", "status=0", NULL, &r), 0);
  assert_int_equal(r.status, GRPC_STATUS_OK);
  assert_true(th_server_wait_idle(srv, 10000));
  assert_int_equal(rpct_tracer_force_flush(tracer, 10000), RPCT_OK);

  pthread_mutex_lock(&col.lock);
  int n_req = col.n_requests;
  pthread_mutex_unlock(&col.lock);
  assert_int_equal(n_req, 1);
  otlp_request *req = decode(col.requests[0]);
  assert_true(check_strings(&req->base) > 20);
  /* Every span of the export is there: the bad ones did not cost the good. */
  assert_int_equal(req->n_resource_spans, 1);
  assert_int_equal(req->resource_spans[0]->n_scope_spans, 1);
  const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
  assert_int_equal(ss->n_spans, 6);
  int seen_bad = 0, seen_long = 0, seen_good = 0;
  /* What the long path becomes: "test.Echo/" and the 81 euro signs that
   * fit in 254 bytes, never a piece of the 82nd. */
  char long_name[300];
  strcpy(long_name, "test.Echo/");
  for (int i = 0; i < 81; i++) strcat(long_name, "\xE2\x82\xAC");
  for (size_t i = 0; i < ss->n_spans; i++) {
    const otlp_span *s = ss->spans[i];
    if (strcmp(s->name, "test.Echo/" FFFD FFFD FFFD FFFD FFFD FFFD FFFD) == 0) {
      seen_bad++;
      assert_string_equal(string_attr(s, "rpc.method"), FFFD FFFD FFFD FFFD FFFD FFFD FFFD);
      if (s->kind == OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER)
        assert_string_equal(string_attr(s, "server.address"), "h" FFFD FFFD);
    } else if (strcmp(s->name, long_name) == 0) {
      seen_long++;
    } else if (strcmp(s->name, "test.Echo/Unary") == 0) {
      seen_good++;
    } else {
      fail_msg("unexpected span name \"%s\"", s->name);
    }
  }
  assert_int_equal(seen_bad, 2);
  assert_int_equal(seen_long, 2);
  assert_int_equal(seen_good, 2);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);

  rpct_tracer_set_global(T.tracer);
  rpct_tracer_del(tracer);
  collector_stop(&col);
}

/* ====================================================================
 * Public endpoint: the caller's baggage
 * ==================================================================== */

/* The baggage the handler's child call carried (Chain calls Unary with
 * parent_call), "" when none; n_baggage in *n. */
static void chain_with_baggage(const char *id, const char *baggage, th_served *child) {
  grpc_metadata md = {.key = grpc_slice_from_static_string("baggage"),
                      .value = grpc_slice_from_copied_string(baggage)};
  th_call_opts o = {.test_id = id, .extra = &md, .n_extra = 1};
  th_result r;
  assert_int_equal(th_unary(ch, "/test.Echo/Chain", "status=0", &o, &r), 0);
  grpc_slice_unref(md.value);
  assert_int_equal(r.status, GRPC_STATUS_OK);
  assert_string_equal(r.last, "child=0");
  char child_id[64];
  snprintf(child_id, sizeof child_id, "%s.child", id);
  assert_int_equal(th_server_find(srv, child_id, child), 1);
}

static void test_public_endpoint_drops_callers_baggage_over_a_real_call(void **state) {
  (void)state;
  th_served child;
  chain_with_baggage("pe.default", "tenant=evil", &child);
  assert_int_equal(child.n_baggage, 1); /* an internal server passes it on */
  assert_string_equal(child.baggage, "tenant=evil");

  configure("RPCTRACE_GRPC_PUBLIC_ENDPOINT", "true");
  chain_with_baggage("pe.drop", "tenant=evil,user.id=admin", &child);
  assert_int_equal(child.n_baggage, 0);

  configure("RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE", "keep");
  chain_with_baggage("pe.keep", "tenant=acme", &child);
  assert_int_equal(child.n_baggage, 1);
  assert_string_equal(child.baggage, "tenant=acme");
}

/* ====================================================================
 * grpc-trace-bin and a gRPC core server
 * ==================================================================== */

static void test_grpc_trace_bin_never_reaches_a_core_server(void **state) {
  (void)state;
  /* The client injects both; the server application sees traceparent
   * only (gRPC core keeps grpc-trace-bin to itself), and the server span
   * continues the trace from it. */
  configure("OTEL_PROPAGATORS", "grpc-trace-bin,tracecontext");
  th_call_opts o = {.test_id = "gtb.both"};
  th_result r;
  assert_int_equal(th_unary(ch, "/test.Echo/Unary", "status=0", &o, &r), 0);
  th_served sv;
  assert_int_equal(th_server_find(srv, "gtb.both", &sv), 1);
  assert_int_equal(sv.n_traceparent, 1);
  assert_int_equal(sv.n_other_tracing, 0);
  assert_int_equal(settled_spans(2), 2);
  const rpct_span_data *c = span_of_kind(RPCT_SPAN_KIND_CLIENT);
  rpct_span_data client = *c;
  const rpct_span_data *s = span_of_kind(RPCT_SPAN_KIND_SERVER);
  assert_memory_equal(s->trace_id.bytes, client.trace_id.bytes, 16);
  assert_memory_equal(s->parent_span_id.bytes, client.span_id.bytes, 8);

  /* grpc-trace-bin alone: nothing reaches the server to continue. */
  rpct_memory_exporter_clear(T.memory);
  configure("OTEL_PROPAGATORS", "grpc-trace-bin");
  o.test_id = "gtb.alone";
  assert_int_equal(th_unary(ch, "/test.Echo/Unary", "status=0", &o, &r), 0);
  assert_int_equal(th_server_find(srv, "gtb.alone", &sv), 1);
  assert_int_equal(sv.n_traceparent + sv.n_other_tracing, 0);
  assert_int_equal(settled_spans(2), 2);
  client = *span_of_kind(RPCT_SPAN_KIND_CLIENT);
  s = span_of_kind(RPCT_SPAN_KIND_SERVER);
  assert_memory_not_equal(s->trace_id.bytes, client.trace_id.bytes, 16);
  assert_false(rpct_span_id_is_valid(&s->parent_span_id));
}

/* ====================================================================
 * Many calls in flight
 * ==================================================================== */

static grpc_call *idle_call(grpc_completion_queue *cq) {
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(300, GPR_TIMESPAN));
  grpc_call *c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                          grpc_slice_from_static_string("/test.Echo/Unary"), NULL,
                                          deadline, NULL);
  assert_non_null(c);
  return c;
}

static bool is_error(const rpct_span_data *d) { return d->status_code == RPCT_STATUS_ERROR; }

#define IDLE_CALLS 20000 /* more than the 16,384 slots the call table had */

static void test_more_calls_in_flight_than_the_old_table_are_all_traced(void **state) {
  (void)state;
  rpct_call_stats before, after;
  rpct_call_stats_get(&before);
  /* The idle calls' spans do not record (an always_off tracer) so that
   * only the RPC made meanwhile is exported. */
  rpct_sampler *off;
  assert_int_equal(rpct_sampler_always_off_new(&off, NULL), RPCT_OK);
  tu_tracer quiet = tu_tracer_new(off, NULL);
  rpct_tracer_set_global(quiet.tracer);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_call **idle = calloc(IDLE_CALLS, sizeof *idle);
  assert_non_null(idle);
  size_t traced = 0;
  for (size_t i = 0; i < IDLE_CALLS; i++) {
    idle[i] = idle_call(cq);
    traced += rpct_call_span_context(idle[i]) != NULL;
  }
  assert_int_equal(traced, IDLE_CALLS);
  assert_true(rpct__tables_call_capacity() > IDLE_CALLS);

  rpct_tracer_set_global(T.tracer);
  th_call_opts o = {.test_id = "busy"};
  th_result r;
  assert_int_equal(th_unary(ch, "/test.Echo/Unary", "status=0", &o, &r), 0);
  assert_int_equal(r.status, GRPC_STATUS_OK);
  assert_int_equal(settled_spans(2), 2);
  for (size_t i = 0; i < 2; i++) {
    rpct_span_data d;
    span_at(i, &d);
    assert_false(is_error(&d));
    assert_string_equal(d.strings + d.name.off, "test.Echo/Unary");
  }

  for (size_t i = 0; i < IDLE_CALLS; i++) grpc_call_unref(idle[i]);
  free(idle);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  rpct_call_stats_get(&after);
  assert_int_equal(after.calls_untraced, before.calls_untraced);
  assert_int_equal(after.batches_unobserved, before.batches_unobserved);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 2);
  rpct_tracer_del(quiet.tracer);
}

/* `n` unary calls started at once on one queue, all created before any
 * is started, released once all have their status. */
static void concurrent_unary(int n, grpc_status_code *statuses) {
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_call **calls = calloc((size_t)n, sizeof *calls);
  grpc_metadata_array *initial = calloc((size_t)n, sizeof *initial);
  grpc_metadata_array *trailing = calloc((size_t)n, sizeof *trailing);
  grpc_slice *details = calloc((size_t)n, sizeof *details);
  grpc_byte_buffer **resp = calloc((size_t)n, sizeof *resp);
  grpc_slice body = grpc_slice_from_static_string("status=0");
  grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&body, 1);
  for (int i = 0; i < n; i++) calls[i] = idle_call(cq);
  for (int i = 0; i < n; i++) {
    grpc_metadata_array_init(&initial[i]);
    grpc_metadata_array_init(&trailing[i]);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial[i];
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp[i];
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &statuses[i];
    ops[5].data.recv_status_on_client.status_details = &details[i];
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing[i];
    assert_int_equal(grpc_call_start_batch(calls[i], ops, 6, &calls[i], NULL), GRPC_CALL_OK);
  }
  for (int done = 0; done < n; done++) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
  }
  for (int i = 0; i < n; i++) {
    grpc_call_unref(calls[i]);
    grpc_metadata_array_destroy(&initial[i]);
    grpc_metadata_array_destroy(&trailing[i]);
    grpc_slice_unref(details[i]);
    if (resp[i]) grpc_byte_buffer_destroy(resp[i]);
  }
  grpc_byte_buffer_destroy(req);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  free(calls);
  free(initial);
  free(trailing);
  free(details);
  free(resp);
}

static void test_calls_past_a_full_table_are_untraced_and_counted_never_errors(void **state) {
  (void)state;
  enum { LIMIT = 10, RPCS = 15 };
  rpct_call_stats before, after;
  rpct_call_stats_get(&before);
  rpct_tracer_stats tb, ta;
  rpct_tracer_get_stats(T.tracer, &tb);
  rpct__tables_set_call_limit(LIMIT);
  grpc_status_code statuses[RPCS];
  /* The 15 client calls are created first: 10 take the 10 places and keep
   * them until released, after every status; the other 5 client calls and
   * the 15 server calls find the table full. */
  concurrent_unary(RPCS, statuses);
  assert_true(th_server_wait_idle(srv, 10000));
  rpct__tables_set_call_limit(0);
  for (int i = 0; i < RPCS; i++) assert_int_equal(statuses[i], GRPC_STATUS_OK);
  rpct_call_stats_get(&after);
  rpct_tracer_get_stats(T.tracer, &ta);
  assert_int_equal(after.calls_untraced - before.calls_untraced, RPCS - LIMIT + RPCS);
  assert_int_equal(ta.spans_started - tb.spans_started, LIMIT);
  assert_int_equal(ta.spans_ended - tb.spans_ended, LIMIT);
  assert_int_equal(rpct_memory_exporter_count(T.memory), LIMIT);
  for (size_t i = 0; i < LIMIT; i++) {
    rpct_span_data d;
    span_at(i, &d);
    assert_int_equal(d.kind, RPCT_SPAN_KIND_CLIENT);
    assert_false(is_error(&d));
  }
}

/* ====================================================================
 * Where the trace context sits, and how big it is
 * ==================================================================== */

static void test_traceparent_after_100_entries_is_continued(void **state) {
  (void)state;
  grpc_metadata md[101];
  char keys[100][16];
  for (int i = 0; i < 100; i++) {
    snprintf(keys[i], sizeof keys[i], "x-pad-%03d", i);
    md[i] = (grpc_metadata){.key = grpc_slice_from_static_string(keys[i]),
                            .value = grpc_slice_from_static_string("v")};
  }
  md[100] = (grpc_metadata){.key = grpc_slice_from_static_string("traceparent"),
                            .value = grpc_slice_from_static_string(TP_VALID)};
  th_call_opts o = {.test_id = "deep", .extra = md, .n_extra = 101};
  th_result r;
  assert_int_equal(th_unary(ch, "/test.Echo/Unary", "status=0", &o, &r), 0);
  assert_int_equal(r.status, GRPC_STATUS_OK);
  th_served sv;
  assert_int_equal(th_server_find(srv, "deep", &sv), 1);
  assert_string_equal(sv.traceparent, TP_VALID); /* the application's, not a second one */
  assert_int_equal(sv.n_traceparent, 1);
  assert_int_equal(settled_spans(2), 2);
  const rpct_span_data *s = span_of_kind(RPCT_SPAN_KIND_SERVER);
  assert_string_equal(hex(s->trace_id.bytes, 16), TP_TRACE);
  assert_string_equal(hex(s->parent_span_id.bytes, 8), TP_SPAN);
}

static void test_8kb_baggage_reaches_the_calls_a_handler_makes(void **state) {
  (void)state;
  /* A server that accepts the request (8 KB of baggage and the rest of
   * the headers pass gRPC's default 8 KB limit). */
  th_server_options so = {.max_metadata_size = 32768};
  th_server *big;
  assert_int_equal(th_server_start(&big, &so), 0);
  grpc_channel *bch = th_channel(th_server_port(big));
  /* 64 members (the W3C maximum), 8,063 bytes in all: under its 8,192. */
  static char bag[8192];
  size_t len = 0;
  for (int i = 0; i < 64; i++) {
    len += (size_t)snprintf(bag + len, sizeof bag - len, "%sk%02d=", i ? "," : "", i);
    memset(bag + len, 'a' + i % 26, 121);
    len += 121;
  }
  bag[len] = '\0';
  assert_int_equal(len, 8063);
  rpct_call_stats before, after;
  rpct_call_stats_get(&before);

  grpc_metadata md = {.key = grpc_slice_from_static_string("baggage"),
                      .value = grpc_slice_from_static_string(bag)};
  th_call_opts o = {.test_id = "bag8k", .extra = &md, .n_extra = 1};
  th_result r;
  assert_int_equal(th_unary(bch, "/test.Echo/Chain", "status=0", &o, &r), 0);
  assert_int_equal(r.status, GRPC_STATUS_OK);
  assert_string_equal(r.last, "child=0");
  th_served parent, child;
  assert_int_equal(th_server_find(big, "bag8k", &parent), 1);
  assert_int_equal(parent.baggage_len, len);
  assert_int_equal(th_server_find(big, "bag8k.child", &child), 1);
  assert_int_equal(child.n_baggage, 1);
  assert_int_equal(child.baggage_len, len);
  assert_true(child.baggage_fnv1a == th_fnv1a(bag, len));
  rpct_call_stats_get(&after);
  assert_int_equal(after.headers_dropped, before.headers_dropped);

  grpc_channel_destroy(bch);
  th_server_stop(big);
}

/* ====================================================================
 * --h2-peer PORT: one call to h2_peer.js
 * ==================================================================== */

/* The client span's context, copied while the call lives. */
static rpct_span_context peer_ctx;
static bool peer_ctx_seen;
static void note_call(grpc_call *call, void *user) {
  (void)user;
  const rpct_span_context *ctx = rpct_call_span_context(call);
  if (ctx) peer_ctx = *ctx, peer_ctx_seen = true;
}

static int h2_peer_client(int port) {
  setenv("OTEL_PROPAGATORS", "tracecontext,grpc-trace-bin", 1);
  T = tu_tracer_new(NULL, NULL);
  if (rpct_init(T.tracer) != RPCT_OK) return 1;
  grpc_init();
  grpc_channel *c = th_channel(port);
  th_call_opts o = {.on_call = note_call};
  th_result r;
  char line[128] = "";
  int rc = th_unary(c, "/test.Echo/Unary", "x", &o, &r);
  if (rc == 0 && peer_ctx_seen) {
    char trace[33], span[17], tp[RPCT_TRACEPARENT_LEN + 1];
    rpct_trace_id_format(&peer_ctx.trace_id, trace, sizeof trace);
    rpct_span_id_format(&peer_ctx.span_id, span, sizeof span);
    rpct_traceparent_format(&peer_ctx, tp, sizeof tp);
    snprintf(line, sizeof line, "client %s %s %s\n", trace, span, tp);
  }
  grpc_channel_destroy(c);
  grpc_shutdown();
  rpct_shutdown(1000);
  rpct_tracer_del(T.tracer);
  if (!line[0]) return 1;
  fputs(line, stdout);
  return r.status == GRPC_STATUS_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--h2-peer") == 0) return h2_peer_client(atoi(argv[2]));
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T_(test_non_utf8_path_and_authority_export_as_valid_utf8),
      T_(test_public_endpoint_drops_callers_baggage_over_a_real_call),
      T_(test_grpc_trace_bin_never_reaches_a_core_server),
      T_(test_more_calls_in_flight_than_the_old_table_are_all_traced),
      T_(test_calls_past_a_full_table_are_untraced_and_counted_never_errors),
      T_(test_traceparent_after_100_entries_is_continued),
      T_(test_8kb_baggage_reaches_the_calls_a_handler_makes),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
