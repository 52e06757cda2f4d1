/* The tracing filters (interceptors/client_filter.c, server_filter.c,
 * tracing_config.c), driven by calling their callbacks directly with
 * zeroed call data and hand-made call info (no grpc_call): span names,
 * attribute sets, status mapping, address parsing, propagation in both
 * directions, configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interceptors.h"
#include "internal.h"
#include "rpctrace/propagation.h"
#include "test_util.h"
#include "tracing.h"

static tu_tracer T;

static const char *const ENV_VARS[] = {
    RPCT__ENV_SEMCONV,          RPCT__ENV_PROPAGATORS,
    RPCT__ENV_EXCLUDE,          RPCT__ENV_INCLUDE,
    RPCT__ENV_PUBLIC_ENDPOINT,  RPCT__ENV_MESSAGE_EVENTS,
    RPCT__ENV_REQUEST_METADATA, RPCT__ENV_RESPONSE_METADATA,
    RPCT__ENV_SPAN_NAMES,       RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE,
};

static void unset_all(void) {
  for (size_t i = 0; i < RPCT__ARRAY_LEN(ENV_VARS); i++) unsetenv(ENV_VARS[i]);
}

/* Set `var` and read the configuration again. */
static void configure(const char *var, const char *value) {
  setenv(var, value, 1);
  rpct__tracing_configure();
}

static int group_setup(void **state) {
  (void)state;
  T = tu_tracer_new(NULL, NULL);
  rpct_tracer_set_global(T.tracer);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  rpct_tracer_set_global(NULL);
  rpct_tracer_del(T.tracer);
  return 0;
}

static int setup(void **state) {
  (void)state;
  unset_all();
  tu_diag_begin();
  rpct__tracing_configure();
  rpct_memory_exporter_clear(T.memory);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_diag_end();
  unset_all();
  rpct__tracing_configure();
  return 0;
}

/* ---- driving the filters ---- */

#define CLIENT (&rpct__client_tracing_filter)
#define SERVER (&rpct__server_tracing_filter)
#define METHOD "/pkg.Service/Method"

/* Zeroed call data, aligned for anything (as the call arena gives). */
static void *cd_new(const rpct_filter *f) {
  void *cd = calloc(1, f->call_data_size);
  assert_non_null(cd);
  return cd;
}

static rpct_call_info client_info(const char *method, const char *target,
                                  const rpct_span_context *parent) {
  return (rpct_call_info){.side = RPCT_SIDE_CLIENT,
                          .method = method,
                          .method_len = strlen(method),
                          .target = target,
                          .parent = parent};
}

static rpct_call_info server_info(const char *method, const char *authority, const rpct_md *md,
                                  size_t n) {
  return (rpct_call_info){.side = RPCT_SIDE_SERVER,
                          .method = method,
                          .method_len = strlen(method),
                          .authority = authority,
                          .authority_len = authority ? strlen(authority) : 0,
                          .metadata = md,
                          .n_metadata = n};
}

/* status, then end, then the call data is gone. */
static void finish(const rpct_filter *f, void *cd, int code, const char *msg) {
  rpct_call_status st = {.code = code, .message = msg, .message_len = msg ? strlen(msg) : 0};
  f->status(cd, &st);
  f->end(cd);
  free(cd);
}

/* A whole unary call of one side that starts and ends with `code`. */
static int run_call(const rpct_filter *f, rpct_call_info *info, int code, const char *msg) {
  void *cd = cd_new(f);
  int rc = f->start(cd, info);
  if (rc == RPCT_FILTER_FOLLOW)
    finish(f, cd, code, msg);
  else
    free(cd);
  return rc;
}

static rpct_md md_(const char *k, const char *v) {
  return (rpct_md){.key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v)};
}

/* ---- reading what was exported ---- */

static size_t n_spans(void) { return rpct_memory_exporter_count(T.memory); }

static void span_at(size_t i, rpct_span_data *out) {
  assert_int_equal(rpct_memory_exporter_get(T.memory, i, out), RPCT_OK);
}

/* The only span exported so far. */
static const rpct_span_data *only_span(void) {
  static rpct_span_data d;
  assert_int_equal(n_spans(), 1);
  span_at(0, &d);
  return &d;
}

static const char *str_of(const rpct_span_data *d, rpct_str s) { return rpct_span_data_str(d, s); }

static const rpct_span_attr *find_attr(const rpct_span_data *d, uint8_t owner, const char *key) {
  for (uint16_t i = 0; i < d->n_attrs; i++)
    if (d->attrs[i].owner == owner && strcmp(str_of(d, d->attrs[i].key), key) == 0)
      return &d->attrs[i];
  return NULL;
}

static void assert_str_attr(const rpct_span_data *d, const char *key, const char *value) {
  const rpct_span_attr *a = find_attr(d, RPCT_ATTR_OWNER_SPAN, key);
  if (!a) {
    fail_msg("no attribute %s", key);
    return;
  }
  assert_int_equal(a->type, RPCT_VALUE_STRING);
  assert_string_equal(str_of(d, a->v.s), value);
}

static void assert_int_attr(const rpct_span_data *d, const char *key, int64_t value) {
  const rpct_span_attr *a = find_attr(d, RPCT_ATTR_OWNER_SPAN, key);
  if (!a) {
    fail_msg("no attribute %s", key);
    return;
  }
  assert_int_equal(a->type, RPCT_VALUE_INT);
  assert_int_equal(a->v.i, value);
}

static void assert_no_attr(const rpct_span_data *d, const char *key) {
  assert_null(find_attr(d, RPCT_ATTR_OWNER_SPAN, key));
}

/* "k=v,k=v" for the attributes of one owner, in record order. */
static const char *attrs_of(const rpct_span_data *d, uint8_t owner) {
  static char buf[2048];
  size_t used = 0;
  buf[0] = '\0';
  for (uint16_t i = 0; i < d->n_attrs; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != owner) continue;
    const char *sep = used ? "," : "";
    int n;
    if (a->type == RPCT_VALUE_STRING)
      n = snprintf(buf + used, sizeof buf - used, "%s%s=%s", sep, str_of(d, a->key),
                   str_of(d, a->v.s));
    else if (a->type == RPCT_VALUE_INT)
      n = snprintf(buf + used, sizeof buf - used, "%s%s=%" PRId64, sep, str_of(d, a->key), a->v.i);
    else
      n = snprintf(buf + used, sizeof buf - used, "%s%s=?", sep, str_of(d, a->key));
    assert_true(n > 0 && (size_t)n < sizeof buf - used);
    used += (size_t)n;
  }
  return buf;
}

static const char *span_attrs(const rpct_span_data *d) { return attrs_of(d, RPCT_ATTR_OWNER_SPAN); }

static const char *hex_trace(const rpct_trace_id *id) {
  static char buf[33];
  tu_hex(id->bytes, 16, buf);
  return buf;
}

static const char *hex_span(const rpct_span_id *id) {
  static char buf[17];
  tu_hex(id->bytes, 8, buf);
  return buf;
}

/* ---- contexts and metadata ---- */

#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_SPAN "00f067aa0ba902b7"
#define TP_VALID "00-" TP_TRACE "-" TP_SPAN "-01"

static rpct_span_context ctx_from(const char *traceparent, const char *tracestate) {
  rpct_span_context c;
  assert_int_equal(rpct_traceparent_parse(traceparent, strlen(traceparent), &c), RPCT_OK);
  if (tracestate)
    assert_int_equal(rpct_tracestate_parse(tracestate, strlen(tracestate), &c.tracestate), RPCT_OK);
  return c;
}

/* Outgoing metadata of a client call: the application's entries and what
 * the filter adds. */
typedef struct md_out {
  rpct_md_writer w;
  grpc_metadata out[32];
  char buf[4096];
} md_out;

static void writer_init(md_out *m, const grpc_metadata *app, size_t n_app) {
  rpct__md_writer_init(&m->w, app, n_app, m->out, RPCT__ARRAY_LEN(m->out), m->buf, sizeof m->buf);
}

static bool slice_is(grpc_slice s, const char *text, size_t len) {
  return GRPC_SLICE_LENGTH(s) == len && memcmp(GRPC_SLICE_START_PTR(s), text, len) == 0;
}

static size_t md_count(const md_out *m, const char *key) {
  size_t n = 0;
  for (size_t i = 0; i < m->w.n_out; i++) n += slice_is(m->out[i].key, key, strlen(key));
  return n;
}

/* The value of the one entry `key` (NUL-terminated copy). */
static const char *md_value(const md_out *m, const char *key) {
  static char buf[1024];
  assert_int_equal(md_count(m, key), 1);
  for (size_t i = 0; i < m->w.n_out; i++) {
    if (!slice_is(m->out[i].key, key, strlen(key))) continue;
    size_t n = GRPC_SLICE_LENGTH(m->out[i].value);
    assert_true(n < sizeof buf);
    memcpy(buf, GRPC_SLICE_START_PTR(m->out[i].value), n);
    buf[n] = '\0';
  }
  return buf;
}

/* "key,key,…" of the outgoing entries, in order. */
static const char *md_keys(const md_out *m) {
  static char buf[1024];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < m->w.n_out; i++) {
    int n = snprintf(buf + used, sizeof buf - used, "%s%.*s", used ? "," : "",
                     (int)GRPC_SLICE_LENGTH(m->out[i].key),
                     (const char *)GRPC_SLICE_START_PTR(m->out[i].key));
    assert_true(n > 0 && (size_t)n < sizeof buf - used);
    used += (size_t)n;
  }
  return buf;
}

/* The outgoing entries as a server would receive them. */
static size_t md_as_request(const md_out *m, rpct_md *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < m->w.n_out && n < cap; i++)
    out[n++] = (rpct_md){.key = (const char *)GRPC_SLICE_START_PTR(m->out[i].key),
                         .key_len = GRPC_SLICE_LENGTH(m->out[i].key),
                         .value = (const char *)GRPC_SLICE_START_PTR(m->out[i].value),
                         .value_len = GRPC_SLICE_LENGTH(m->out[i].value)};
  return n;
}

/* Start a client call, let it inject into a writer over `app`, end it. */
static void client_inject(md_out *m, const grpc_metadata *app, size_t n_app,
                          const rpct_span_context *parent, const char *baggage,
                          rpct_span_context *span_ctx) {
  rpct_call_info info = client_info(METHOD, "dns:///svc:50051", parent);
  info.parent_baggage = baggage;
  info.parent_baggage_len = baggage ? strlen(baggage) : 0;
  void *cd = cd_new(CLIENT);
  assert_int_equal(CLIENT->start(cd, &info), RPCT_FILTER_FOLLOW);
  assert_non_null(info.span_context);
  if (span_ctx) *span_ctx = *info.span_context;
  writer_init(m, app, n_app);
  CLIENT->send_initial_metadata(cd, &m->w);
  finish(CLIENT, cd, GRPC_STATUS_OK, NULL);
}

/* ====================================================================
 * Status
 * ==================================================================== */

static const struct {
  int code;
  uint8_t client, server; /* expected span status */
  const char *name;
} STATUS[] = {
    {GRPC_STATUS_OK, RPCT_STATUS_UNSET, RPCT_STATUS_UNSET, "OK"},
    {GRPC_STATUS_CANCELLED, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "CANCELLED"},
    {GRPC_STATUS_UNKNOWN, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "UNKNOWN"},
    {GRPC_STATUS_INVALID_ARGUMENT, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "INVALID_ARGUMENT"},
    {GRPC_STATUS_DEADLINE_EXCEEDED, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "DEADLINE_EXCEEDED"},
    {GRPC_STATUS_NOT_FOUND, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "NOT_FOUND"},
    {GRPC_STATUS_ALREADY_EXISTS, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "ALREADY_EXISTS"},
    {GRPC_STATUS_PERMISSION_DENIED, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "PERMISSION_DENIED"},
    {GRPC_STATUS_RESOURCE_EXHAUSTED, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "RESOURCE_EXHAUSTED"},
    {GRPC_STATUS_FAILED_PRECONDITION, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "FAILED_PRECONDITION"},
    {GRPC_STATUS_ABORTED, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "ABORTED"},
    {GRPC_STATUS_OUT_OF_RANGE, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "OUT_OF_RANGE"},
    {GRPC_STATUS_UNIMPLEMENTED, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "UNIMPLEMENTED"},
    {GRPC_STATUS_INTERNAL, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "INTERNAL"},
    {GRPC_STATUS_UNAVAILABLE, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "UNAVAILABLE"},
    {GRPC_STATUS_DATA_LOSS, RPCT_STATUS_ERROR, RPCT_STATUS_ERROR, "DATA_LOSS"},
    {GRPC_STATUS_UNAUTHENTICATED, RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "UNAUTHENTICATED"},
};

/* One call of `side` ending with STATUS[i] and the message "why <name>". */
static void run_status_call(unsigned side, size_t i, rpct_span_data *out) {
  char msg[64];
  snprintf(msg, sizeof msg, "why %s", STATUS[i].name);
  rpct_memory_exporter_clear(T.memory);
  rpct_call_info info = side == RPCT_SIDE_CLIENT ? client_info(METHOD, NULL, NULL)
                                                 : server_info(METHOD, NULL, NULL, 0);
  assert_int_equal(run_call(side == RPCT_SIDE_CLIENT ? CLIENT : SERVER, &info, STATUS[i].code, msg),
                   RPCT_FILTER_FOLLOW);
  *out = *only_span();
}

static void test_status_codes_map_to_span_status_on_both_sides(void **state) {
  (void)state;
  static rpct_span_data d;
  assert_int_equal(RPCT__ARRAY_LEN(STATUS), 17);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(STATUS); i++) {
    for (unsigned side = RPCT_SIDE_CLIENT; side <= RPCT_SIDE_SERVER; side++) {
      run_status_call(side, i, &d);
      uint8_t want = side == RPCT_SIDE_CLIENT ? STATUS[i].client : STATUS[i].server;
      char msg[64];
      snprintf(msg, sizeof msg, "why %s", STATUS[i].name);
      if (d.status_code != want)
        fail_msg("%s on side %u: status %u, want %u", STATUS[i].name, side, d.status_code, want);
      if (want == RPCT_STATUS_ERROR)
        assert_string_equal(str_of(&d, d.status_message), msg);
      else
        assert_int_equal(d.status_message.len, 0);
      assert_int_attr(&d, "rpc.grpc.status_code", STATUS[i].code);
      assert_no_attr(&d, "rpc.status_code");
      assert_no_attr(&d, "error.type");
      assert_int_equal(d.kind,
                       side == RPCT_SIDE_CLIENT ? RPCT_SPAN_KIND_CLIENT : RPCT_SPAN_KIND_SERVER);
    }
  }
}

static void test_stable_status_attributes_name_the_code_and_error_type(void **state) {
  (void)state;
  static rpct_span_data d;
  configure(RPCT__ENV_SEMCONV, "rpc");
  for (size_t i = 0; i < RPCT__ARRAY_LEN(STATUS); i++) {
    for (unsigned side = RPCT_SIDE_CLIENT; side <= RPCT_SIDE_SERVER; side++) {
      run_status_call(side, i, &d);
      uint8_t want = side == RPCT_SIDE_CLIENT ? STATUS[i].client : STATUS[i].server;
      assert_int_equal(d.status_code, want);
      assert_str_attr(&d, "rpc.status_code", STATUS[i].name);
      if (want == RPCT_STATUS_ERROR)
        assert_str_attr(&d, "error.type", STATUS[i].name);
      else
        assert_no_attr(&d, "error.type");
      assert_no_attr(&d, "rpc.grpc.status_code");
    }
  }
}

static void test_status_outside_the_known_codes_reads_as_unknown(void **state) {
  (void)state;
  configure(RPCT__ENV_SEMCONV, "rpc/dup");
  static const int codes[] = {17, 42, -1};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(codes); i++) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info = server_info(METHOD, NULL, NULL, 0);
    run_call(SERVER, &info, codes[i], "odd");
    const rpct_span_data *d = only_span();
    assert_int_equal(d->status_code, RPCT_STATUS_ERROR);
    assert_string_equal(str_of(d, d->status_message), "odd");
    assert_int_attr(d, "rpc.grpc.status_code", GRPC_STATUS_UNKNOWN);
    assert_str_attr(d, "rpc.status_code", "UNKNOWN");
    assert_str_attr(d, "error.type", "UNKNOWN");
  }
  assert_string_equal(rpct__tracing_status_name(99), "UNKNOWN");
  assert_string_equal(rpct__tracing_status_name(16), "UNAUTHENTICATED");
}

static void test_error_without_message_has_no_description(void **state) {
  (void)state;
  rpct_call_info info = client_info(METHOD, NULL, NULL);
  run_call(CLIENT, &info, GRPC_STATUS_UNAVAILABLE, NULL);
  const rpct_span_data *d = only_span();
  assert_int_equal(d->status_code, RPCT_STATUS_ERROR);
  assert_int_equal(d->status_message.len, 0);
}

/* ====================================================================
 * Attribute sets
 * ==================================================================== */

static void client_and_server_spans(rpct_span_data *client, rpct_span_data *server, int code) {
  rpct_memory_exporter_clear(T.memory);
  rpct_call_info ci = client_info(METHOD, "dns:///api.example.com:8443", NULL);
  run_call(CLIENT, &ci, code, "bad");
  rpct_call_info si = server_info(METHOD, "api.example.com:8443", NULL, 0);
  run_call(SERVER, &si, code, "bad");
  assert_int_equal(n_spans(), 2);
  span_at(0, client);
  span_at(1, server);
}

static void test_default_attribute_set_is_the_old_one(void **state) {
  (void)state;
  static rpct_span_data c, s;
  client_and_server_spans(&c, &s, GRPC_STATUS_INTERNAL);
  const char *want =
      "rpc.system=grpc,rpc.service=pkg.Service,rpc.method=Method,"
      "server.address=api.example.com,server.port=8443,rpc.grpc.status_code=13";
  assert_string_equal(span_attrs(&c), want);
  assert_string_equal(span_attrs(&s), want);
  assert_string_equal(str_of(&c, c.name), "pkg.Service/Method");
  assert_string_equal(str_of(&s, s.name), "pkg.Service/Method");
}

static void test_rpc_opt_in_gives_the_stable_attribute_set(void **state) {
  (void)state;
  static rpct_span_data c, s;
  configure(RPCT__ENV_SEMCONV, "http, rpc ,database");
  client_and_server_spans(&c, &s, GRPC_STATUS_INTERNAL);
  const char *want =
      "rpc.system.name=grpc,rpc.method=pkg.Service/Method,"
      "server.address=api.example.com,server.port=8443,"
      "rpc.status_code=INTERNAL,error.type=INTERNAL";
  assert_string_equal(span_attrs(&c), want);
  assert_string_equal(span_attrs(&s), want);
  /* OK: no error.type. */
  client_and_server_spans(&c, &s, GRPC_STATUS_OK);
  assert_string_equal(span_attrs(&c),
                      "rpc.system.name=grpc,rpc.method=pkg.Service/Method,"
                      "server.address=api.example.com,server.port=8443,"
                      "rpc.status_code=OK");
}

/* rpc/dup: both sets; the one shared key, rpc.method, holds the stable
 * value (tracing_config.c explains why). */
static void test_rpc_dup_gives_both_sets_with_the_stable_rpc_method(void **state) {
  (void)state;
  static rpct_span_data c, s;
  const char *want =
      "rpc.system=grpc,rpc.service=pkg.Service,rpc.method.deprecated=Method,rpc.system.name=grpc,"
      "rpc.method=pkg.Service/Method,server.address=api.example.com,server.port=8443,"
      "rpc.grpc.status_code=14,rpc.status_code=UNAVAILABLE,error.type=UNAVAILABLE";
  static const char *const values[] = {"rpc/dup", "rpc,rpc/dup", "rpc/dup,rpc"};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(values); i++) {
    configure(RPCT__ENV_SEMCONV, values[i]);
    client_and_server_spans(&c, &s, GRPC_STATUS_UNAVAILABLE);
    assert_string_equal(span_attrs(&c), want);
    assert_string_equal(span_attrs(&s), want);
  }
}

static void test_semconv_entries_of_other_domains_are_ignored(void **state) {
  (void)state;
  configure(RPCT__ENV_SEMCONV, "http/dup,rpcx,RPC-dup");
  assert_int_equal(rpct__tracing.semconv, RPCT__SEMCONV_OLD);
  assert_int_equal(tu_diag_count, 0);
}

static void test_method_without_service_keeps_the_name_only(void **state) {
  (void)state;
  rpct_call_info info = client_info("/Ping", NULL, NULL);
  run_call(CLIENT, &info, GRPC_STATUS_OK, NULL);
  const rpct_span_data *d = only_span();
  assert_string_equal(str_of(d, d->name), "Ping");
  assert_string_equal(span_attrs(d), "rpc.system=grpc,rpc.method=Ping,rpc.grpc.status_code=0");
}

/* ====================================================================
 * Addresses
 * ==================================================================== */

static const struct {
  const char *target;
  const char *host; /* NULL: nothing parsed */
  int port;
} TARGETS[] = {
    {"dns:///api.example.com:443", "api.example.com", 443},
    {"dns://8.8.8.8/api.example.com:8443", "api.example.com", 8443},
    {"dns:api.example.com:50051", "api.example.com", 50051},
    {"dns:///api.example.com", "api.example.com", -1},
    {"DNS:///upper.example:1", "upper.example", 1},
    {"dns:///[2001:db8::1]:443", "2001:db8::1", 443},
    {"ipv4:10.0.0.1:50051", "10.0.0.1", 50051},
    /* An address list names no one server: the whole target, no port
     * (the conventions' own example). */
    {"ipv4:198.51.100.123:50051,198.51.100.124:50051",
     "ipv4:198.51.100.123:50051,198.51.100.124:50051", -1},
    {"ipv6:[::1]:50051", "::1", 50051},
    {"ipv6:[2001:db8::1]:443,[2001:db8::2]:443", "ipv6:[2001:db8::1]:443,[2001:db8::2]:443", -1},
    {"unix:/tmp/grpc.sock", "/tmp/grpc.sock", -1},
    {"unix:relative/grpc.sock", "relative/grpc.sock", -1},
    {"unix:///tmp/grpc.sock", "/tmp/grpc.sock", -1},
    {"unix-abstract:my-socket", "my-socket", -1},
    {"localhost:50051", "localhost", 50051},
    {"localhost", "localhost", -1},
    {"10.1.2.3:9000", "10.1.2.3", 9000},
    {"[::1]:50051", "::1", 50051},
    {"[::1]", "::1", -1},
    {"::1", "::1", -1},
    {"xds:///my-service", "my-service", -1},
    {"xds:///my-service:8080", "my-service", 8080},
    {"google-c2p:///spanner.googleapis.com", "spanner.googleapis.com", -1},
    {"vsock:3:5000", "vsock:3:5000", -1},
    {"zk://zookeeper:2181/my-server", "zk://zookeeper:2181/my-server", -1},
    {"grpc.io:50051", "grpc.io", 50051},
    {"dns://1.2.3.4/grpc.io:50051", "grpc.io", 50051},
    {"unix:///run/containerd/containerd.sock", "/run/containerd/containerd.sock", -1},
    {"", NULL, -1},
};

static void test_target_parsing_table(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(TARGETS); i++) {
    rpct__hostport hp;
    bool ok = rpct__tracing_parse_target(TARGETS[i].target, strlen(TARGETS[i].target), &hp);
    const char *want = TARGETS[i].host;
    if (!ok || !want) {
      if (ok != (want != NULL)) fail_msg("%s: parsed %d", TARGETS[i].target, ok);
      continue;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)hp.host_len, hp.host);
    if (strcmp(host, want) != 0 || hp.port != TARGETS[i].port)
      fail_msg("%s: got %s port %d, want %s port %d", TARGETS[i].target, host, hp.port, want,
               TARGETS[i].port);
  }
}

/* The same table through the client filter: server.address/server.port. */
static void test_client_span_names_the_server_from_the_target(void **state) {
  (void)state;
  static rpct_span_data d;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(TARGETS); i++) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info = client_info(METHOD, TARGETS[i].target, NULL);
    run_call(CLIENT, &info, GRPC_STATUS_OK, NULL);
    d = *only_span();
    if (TARGETS[i].host)
      assert_str_attr(&d, "server.address", TARGETS[i].host);
    else
      assert_no_attr(&d, "server.address");
    if (TARGETS[i].port >= 0)
      assert_int_attr(&d, "server.port", TARGETS[i].port);
    else
      assert_no_attr(&d, "server.port");
  }
  /* No target known. */
  rpct_memory_exporter_clear(T.memory);
  rpct_call_info info = client_info(METHOD, NULL, NULL);
  run_call(CLIENT, &info, GRPC_STATUS_OK, NULL);
  assert_no_attr(only_span(), "server.address");
}

static void test_server_span_names_the_server_from_the_authority(void **state) {
  (void)state;
  static const struct {
    const char *authority, *host;
    int port;
  } cases[] = {
      {"api.example.com:8443", "api.example.com", 8443},
      {"api.example.com", "api.example.com", -1},
      {"[::1]:50051", "::1", 50051},
      {"[2001:db8::1]", "2001:db8::1", -1},
      {"10.0.0.7:80", "10.0.0.7", 80},
      {"host:notaport", NULL, -1},
      {"host:70000", NULL, -1},
      {"[::1", NULL, -1},
      {":50051", NULL, -1},
      {"", NULL, -1},
  };
  static rpct_span_data d;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info = server_info(METHOD, cases[i].authority, NULL, 0);
    run_call(SERVER, &info, GRPC_STATUS_OK, NULL);
    d = *only_span();
    if (cases[i].host) {
      assert_str_attr(&d, "server.address", cases[i].host);
    } else {
      assert_no_attr(&d, "server.address");
    }
    if (cases[i].port >= 0)
      assert_int_attr(&d, "server.port", cases[i].port);
    else
      assert_no_attr(&d, "server.port");
  }
}

static void test_peer_parsing_table(void **state) {
  (void)state;
  static const struct {
    const char *peer, *host;
    int port;
  } cases[] = {
      {"ipv4:127.0.0.1:5000", "127.0.0.1", 5000},
      {"ipv6:[::1]:5000", "::1", 5000},
      {"ipv6:%5B::1%5D:5000", "::1", 5000},
      {"ipv6:%5b2001:db8::7%5d:443", "2001:db8::7", 443},
      {"unix:/p", "/p", -1},
      {"unix:/tmp/with%20space.sock", "/tmp/with space.sock", -1},
      {"unix-abstract:name", "name", -1},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    char buf[256];
    rpct__hostport hp;
    assert_true(rpct__tracing_parse_peer(cases[i].peer, buf, sizeof buf, &hp));
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)hp.host_len, hp.host);
    if (strcmp(host, cases[i].host) != 0 || hp.port != cases[i].port)
      fail_msg("%s: got %s port %d", cases[i].peer, host, hp.port);
  }
  char small[8];
  rpct__hostport hp;
  /* Cut to the buffer, never past it. */
  assert_true(rpct__tracing_parse_peer("unix:/a/very/long/path", small, sizeof small, &hp));
  assert_int_equal(hp.host_len, 2);
  assert_memory_equal(hp.host, "/a", 2);
}

/* ====================================================================
 * Injection (client)
 * ==================================================================== */

static void test_client_injects_the_traceparent_of_its_span(void **state) {
  (void)state;
  md_out m;
  rpct_span_context ctx;
  rpct_span_context parent = ctx_from(TP_VALID, NULL);
  client_inject(&m, NULL, 0, &parent, NULL, &ctx);
  assert_string_equal(md_keys(&m), "traceparent");
  char want[RPCT_TRACEPARENT_LEN + 1];
  assert_int_equal(rpct_traceparent_format(&ctx, want, sizeof want), RPCT_TRACEPARENT_LEN);
  assert_string_equal(md_value(&m, "traceparent"), want);

  const rpct_span_data *d = only_span();
  /* The injected context is the span's: same trace, its own span id. */
  assert_string_equal(hex_trace(&d->trace_id), TP_TRACE);
  assert_string_equal(hex_span(&d->parent_span_id), TP_SPAN);
  char expect[RPCT_TRACEPARENT_LEN + 1];
  snprintf(expect, sizeof expect, "00-%s-", TP_TRACE);
  assert_memory_equal(want, expect, 36);
  assert_memory_equal(want + 36, hex_span(&d->span_id), 16);
  assert_string_equal(want + 52, "-01");
}

static void test_client_injects_tracestate_only_when_present(void **state) {
  (void)state;
  md_out m;
  rpct_span_context parent = ctx_from(TP_VALID, "vendor=a1, other=b2");
  client_inject(&m, NULL, 0, &parent, NULL, NULL);
  assert_string_equal(md_keys(&m), "traceparent,tracestate");
  assert_string_equal(md_value(&m, "tracestate"), "vendor=a1,other=b2");

  rpct_memory_exporter_clear(T.memory);
  client_inject(&m, NULL, 0, NULL, NULL, NULL);
  assert_string_equal(md_keys(&m), "traceparent");
}

static void test_client_injects_baggage_only_from_its_parent(void **state) {
  (void)state;
  md_out m;
  client_inject(&m, NULL, 0, NULL, NULL, NULL);
  assert_int_equal(md_count(&m, "baggage"), 0);
  client_inject(&m, NULL, 0, NULL, "user=alice,tier=gold;p=1", NULL);
  assert_string_equal(md_keys(&m), "traceparent,baggage");
  assert_string_equal(md_value(&m, "baggage"), "user=alice,tier=gold;p=1");
  /* Not configured: not sent. */
  configure(RPCT__ENV_PROPAGATORS, "tracecontext");
  client_inject(&m, NULL, 0, NULL, "user=alice", NULL);
  assert_string_equal(md_keys(&m), "traceparent");
}

static void test_client_never_duplicates_an_application_traceparent(void **state) {
  (void)state;
  static const char app_tp[] = "00-11111111111111111111111111111111-2222222222222222-01";
  grpc_metadata app[2];
  memset(app, 0, sizeof app);
  app[0].key = grpc_slice_from_static_string("x-app");
  app[0].value = grpc_slice_from_static_string("1");
  app[1].key = grpc_slice_from_static_string("traceparent");
  app[1].value = grpc_slice_from_static_string(app_tp);
  md_out m;
  rpct_span_context parent = ctx_from(TP_VALID, "k=v");
  client_inject(&m, app, 2, &parent, "b=1", NULL);
  /* The application's traceparent stays, alone; the rest is added. */
  assert_string_equal(md_keys(&m), "x-app,traceparent,tracestate,baggage");
  assert_string_equal(md_value(&m, "traceparent"), app_tp);
}

static void test_client_injects_b3_b3multi_and_grpc_trace_bin_when_configured(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "b3,b3multi,grpc-trace-bin");
  md_out m;
  rpct_span_context ctx;
  rpct_span_context parent = ctx_from(TP_VALID, NULL);
  client_inject(&m, NULL, 0, &parent, "user=alice", &ctx);
  assert_string_equal(md_keys(&m), "b3,x-b3-traceid,x-b3-spanid,x-b3-sampled,grpc-trace-bin");
  char sid[17];
  tu_hex(ctx.span_id.bytes, 8, sid);
  char want[128];
  snprintf(want, sizeof want, "%s-%s-1", TP_TRACE, sid);
  assert_string_equal(md_value(&m, "b3"), want);
  assert_string_equal(md_value(&m, "x-b3-traceid"), TP_TRACE);
  assert_string_equal(md_value(&m, "x-b3-spanid"), sid);
  assert_string_equal(md_value(&m, "x-b3-sampled"), "1");
  for (size_t i = 0; i < m.w.n_out; i++) {
    if (!slice_is(m.out[i].key, "grpc-trace-bin", 14)) continue;
    assert_int_equal(GRPC_SLICE_LENGTH(m.out[i].value), RPCT_GRPC_TRACE_BIN_LEN);
    const uint8_t *b = GRPC_SLICE_START_PTR(m.out[i].value);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[1], 0);
    assert_memory_equal(b + 2, parent.trace_id.bytes, 16);
    assert_int_equal(b[18], 1);
    assert_memory_equal(b + 19, ctx.span_id.bytes, 8);
    assert_int_equal(b[27], 2);
    assert_int_equal(b[28], 1);
  }
}

static void test_propagators_none_injects_nothing(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "none");
  md_out m;
  client_inject(&m, NULL, 0, NULL, "user=alice", NULL);
  assert_int_equal(m.w.n_out, 0);
  assert_int_equal(n_spans(), 1); /* still traced */
}

static void test_unsampled_client_still_propagates_its_context(void **state) {
  (void)state;
  rpct_sampler *off = NULL;
  assert_int_equal(rpct_sampler_always_off_new(&off, NULL), RPCT_OK);
  tu_tracer t_off = tu_tracer_new(off, NULL);
  rpct_tracer_set_global(t_off.tracer);
  md_out m;
  rpct_span_context ctx;
  client_inject(&m, NULL, 0, NULL, NULL, &ctx);
  assert_true(rpct_span_context_is_valid(&ctx));
  assert_false(rpct_span_context_is_sampled(&ctx));
  char want[RPCT_TRACEPARENT_LEN + 1];
  rpct_traceparent_format(&ctx, want, sizeof want);
  assert_string_equal(md_value(&m, "traceparent"), want);
  assert_string_equal(want + 52, "-02"); /* random flag only */
  assert_int_equal(rpct_memory_exporter_count(t_off.memory), 0);
  rpct_tracer_set_global(T.tracer);
  rpct_tracer_del(t_off.tracer);
}

/* The dispatcher picks the parent; a NULL parent is a root even when the
 * thread has a current context. */
static void test_client_without_parent_is_a_root_whatever_the_thread_context(void **state) {
  (void)state;
  rpct_span_context current = ctx_from(TP_VALID, NULL);
  rpct_context_token tok = rpct_context_attach(&current);
  rpct_call_info info = client_info(METHOD, NULL, NULL);
  run_call(CLIENT, &info, GRPC_STATUS_OK, NULL);
  rpct_context_detach(tok);
  const rpct_span_data *d = only_span();
  assert_false(rpct_span_id_is_valid(&d->parent_span_id));
  assert_string_not_equal(hex_trace(&d->trace_id), TP_TRACE);
}

static void test_client_publishes_its_span_context_and_parent_baggage(void **state) {
  (void)state;
  rpct_span_context parent = ctx_from(TP_VALID, NULL);
  parent.remote = false; /* a local parent: the handler's span */
  rpct_call_info info = client_info(METHOD, NULL, &parent);
  static const char bag[] = "k=v";
  info.parent_baggage = bag;
  info.parent_baggage_len = 3;
  void *cd = cd_new(CLIENT);
  assert_int_equal(CLIENT->start(cd, &info), RPCT_FILTER_FOLLOW);
  const rpct_span_context *sc = info.span_context;
  assert_non_null(sc);
  assert_memory_equal(sc->trace_id.bytes, parent.trace_id.bytes, 16);
  assert_ptr_equal(info.baggage, bag);
  assert_int_equal(info.baggage_len, 3);
  rpct_span_context copy = *sc;
  finish(CLIENT, cd, GRPC_STATUS_OK, NULL);
  const rpct_span_data *d = only_span();
  assert_memory_equal(d->span_id.bytes, copy.span_id.bytes, 8);
  assert_false(d->parent_remote);
}

/* ====================================================================
 * Extraction (server)
 * ==================================================================== */

/* Run a server call over md[0..n) and return its span. */
static const rpct_span_data *server_span(const rpct_md *md, size_t n) {
  rpct_memory_exporter_clear(T.memory);
  rpct_call_info info = server_info(METHOD, NULL, md, n);
  assert_int_equal(run_call(SERVER, &info, GRPC_STATUS_OK, NULL), RPCT_FILTER_FOLLOW);
  return only_span();
}

static void assert_child_of_tp(const rpct_span_data *d) {
  assert_string_equal(hex_trace(&d->trace_id), TP_TRACE);
  assert_string_equal(hex_span(&d->parent_span_id), TP_SPAN);
  assert_true(d->parent_remote);
}

static void assert_new_root(const rpct_span_data *d) {
  assert_false(rpct_span_id_is_valid(&d->parent_span_id));
  assert_false(d->parent_remote);
  assert_string_not_equal(hex_trace(&d->trace_id), TP_TRACE);
  assert_int_equal(d->n_links, 0);
}

static void test_server_continues_a_valid_traceparent(void **state) {
  (void)state;
  rpct_md md[] = {md_(":path", METHOD), md_("traceparent", TP_VALID)};
  const rpct_span_data *d = server_span(md, 2);
  assert_child_of_tp(d);
  assert_int_equal(d->flags & RPCT_TRACE_FLAG_SAMPLED, RPCT_TRACE_FLAG_SAMPLED);
}

static void test_server_starts_a_new_trace_for_a_duplicated_traceparent(void **state) {
  (void)state;
  /* W3C test suite: test_traceparent_duplicated (even with equal values). */
  rpct_md md[] = {md_("traceparent", TP_VALID), md_("traceparent", TP_VALID)};
  assert_new_root(server_span(md, 2));
}

static void test_server_starts_a_new_trace_for_a_malformed_traceparent(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "00-" TP_TRACE "-" TP_SPAN,
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-" TP_SPAN "-01",
      "ff-" TP_TRACE "-" TP_SPAN "-01",
      "00-00000000000000000000000000000000-" TP_SPAN "-01",
      "00-" TP_TRACE "-0000000000000000-01",
      "garbage",
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bad); i++) {
    rpct_md md[] = {md_("traceparent", bad[i]), md_("tracestate", "a=1")};
    const rpct_span_data *d = server_span(md, 2);
    assert_new_root(d);
    /* tracestate is ignored when traceparent is invalid. */
    assert_string_equal(str_of(d, d->tracestate), "");
  }
}

static void test_server_combines_tracestate_values_in_order(void **state) {
  (void)state;
  rpct_md md[] = {md_("tracestate", "a=1"), md_("traceparent", TP_VALID),
                  md_("tracestate", "b=2, c=3"), md_("x-other", "y")};
  const rpct_span_data *d = server_span(md, 4);
  assert_child_of_tp(d);
  assert_string_equal(str_of(d, d->tracestate), "a=1,b=2,c=3");
  /* A bad tracestate is dropped; the traceparent still holds. */
  rpct_md md2[] = {md_("traceparent", TP_VALID), md_("tracestate", "a=1"),
                   md_("tracestate", "A=bad")};
  d = server_span(md2, 3);
  assert_child_of_tp(d);
  assert_string_equal(str_of(d, d->tracestate), "");
}

static void test_server_without_trace_headers_starts_a_root(void **state) {
  (void)state;
  assert_new_root(server_span(NULL, 0));
  rpct_md md[] = {md_("user-agent", "grpc-c/29.0.0")};
  assert_new_root(server_span(md, 1));
}

static void test_server_ignores_traceparent_when_tracecontext_is_off(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "b3");
  rpct_md md[] = {md_("traceparent", TP_VALID)};
  assert_new_root(server_span(md, 1));
}

static void test_server_extracts_b3_and_b3multi_when_configured(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "b3");
  rpct_md b3[] = {md_("b3", TP_TRACE "-" TP_SPAN "-1")};
  assert_child_of_tp(server_span(b3, 1));

  configure(RPCT__ENV_PROPAGATORS, "b3multi");
  rpct_md multi[] = {md_("x-b3-traceid", TP_TRACE), md_("x-b3-spanid", TP_SPAN),
                     md_("x-b3-sampled", "1")};
  assert_child_of_tp(server_span(multi, 3));
}

/* gRPC core 1.51 never hands grpc-trace-bin to a server application (see
 * server_filter.c; tests/filters/test_hostile_calls.c shows it over a real
 * call): the filter does not read it, even from an array that has it. */
static void test_server_never_extracts_grpc_trace_bin(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "grpc-trace-bin,tracecontext");
  rpct_span_context tp = ctx_from(TP_VALID, NULL);
  uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN];
  assert_int_equal(rpct_grpc_trace_bin_format(&tp, bin), RPCT_GRPC_TRACE_BIN_LEN);
  rpct_md gtb[] = {{.key = "grpc-trace-bin",
                    .key_len = 14,
                    .value = (const char *)bin,
                    .value_len = sizeof bin}};
  assert_new_root(server_span(gtb, 1));
}

static void test_server_extracts_in_the_configured_order_first_valid_wins(void **state) {
  (void)state;
  static const char other_trace[] = "0af7651916cd43dd8448eb211c80319c";
  static const char other_span[] = "b7ad6b7169203331";
  rpct_md md[] = {md_("traceparent", TP_VALID),
                  md_("b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1")};
  configure(RPCT__ENV_PROPAGATORS, "b3,tracecontext");
  const rpct_span_data *d = server_span(md, 2);
  assert_string_equal(hex_trace(&d->trace_id), other_trace);
  assert_string_equal(hex_span(&d->parent_span_id), other_span);
  configure(RPCT__ENV_PROPAGATORS, "tracecontext,b3");
  assert_child_of_tp(server_span(md, 2));
  /* An invalid first one falls through to the next. */
  rpct_md bad_b3[] = {md_("traceparent", TP_VALID), md_("b3", "nonsense")};
  configure(RPCT__ENV_PROPAGATORS, "b3,tracecontext");
  assert_child_of_tp(server_span(bad_b3, 2));
}

static void test_public_endpoint_starts_a_root_linked_to_the_caller(void **state) {
  (void)state;
  configure(RPCT__ENV_PUBLIC_ENDPOINT, "true");
  rpct_md md[] = {md_("traceparent", TP_VALID), md_("tracestate", "v=1")};
  const rpct_span_data *d = server_span(md, 2);
  assert_false(rpct_span_id_is_valid(&d->parent_span_id));
  assert_string_not_equal(hex_trace(&d->trace_id), TP_TRACE);
  assert_int_equal(d->n_links, 1);
  assert_string_equal(hex_trace(&d->links[0].trace_id), TP_TRACE);
  assert_string_equal(hex_span(&d->links[0].span_id), TP_SPAN);
  assert_string_equal(str_of(d, d->links[0].tracestate), "v=1");
  /* No inbound context: a root without link. */
  assert_new_root(server_span(NULL, 0));
}

/* The baggage a server call hands on to the calls its handler makes. */
static const char *server_baggage(const rpct_md *md, size_t n, size_t *len) {
  rpct_call_info info = server_info(METHOD, NULL, md, n);
  void *cd = cd_new(SERVER);
  assert_int_equal(SERVER->start(cd, &info), RPCT_FILTER_FOLLOW);
  static char copy[64];
  *len = info.baggage_len;
  if (info.baggage) {
    assert_true(info.baggage_len < sizeof copy);
    memcpy(copy, info.baggage, info.baggage_len);
  }
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);
  return info.baggage ? copy : NULL;
}

static void test_public_endpoint_drops_the_callers_baggage(void **state) {
  (void)state;
  rpct_md md[] = {md_("traceparent", TP_VALID), md_("baggage", "user.id=admin,tenant=all")};
  size_t len;
  configure(RPCT__ENV_PUBLIC_ENDPOINT, "true");
  assert_null(server_baggage(md, 2, &len));
  assert_int_equal(len, 0);
  configure(RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE, "DROP");
  assert_null(server_baggage(md, 2, &len));
  /* Not a public endpoint: the variable changes nothing. */
  configure(RPCT__ENV_PUBLIC_ENDPOINT, "false");
  const char *b = server_baggage(md, 2, &len);
  assert_non_null(b);
  assert_int_equal(len, strlen("user.id=admin,tenant=all"));
  assert_memory_equal(b, "user.id=admin,tenant=all", len);
}

static void test_public_endpoint_keeps_baggage_when_configured(void **state) {
  (void)state;
  rpct_md md[] = {md_("baggage", "tenant=acme")};
  configure(RPCT__ENV_PUBLIC_ENDPOINT, "true");
  configure(RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE, " Keep ");
  assert_true(rpct__tracing.public_endpoint_keeps_baggage);
  size_t len;
  const char *b = server_baggage(md, 1, &len);
  assert_non_null(b);
  assert_int_equal(len, strlen("tenant=acme"));
  assert_memory_equal(b, "tenant=acme", len);
  assert_int_equal(tu_diag_count, 0);
}

static void test_public_endpoint_baggage_reports_a_bad_value_and_drops(void **state) {
  (void)state;
  rpct_md md[] = {md_("baggage", "tenant=acme")};
  configure(RPCT__ENV_PUBLIC_ENDPOINT, "true");
  configure(RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE, "yes");
  assert_false(rpct__tracing.public_endpoint_keeps_baggage);
  size_t len;
  assert_null(server_baggage(md, 1, &len));
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE=\"yes\" is not \"drop\" or \"keep\"; "
                      "using the default drop");
}

static void test_server_publishes_its_span_context(void **state) {
  (void)state;
  rpct_md md[] = {md_("traceparent", TP_VALID)};
  rpct_call_info info = server_info(METHOD, NULL, md, 1);
  void *cd = cd_new(SERVER);
  assert_int_equal(SERVER->start(cd, &info), RPCT_FILTER_FOLLOW);
  assert_non_null(info.span_context);
  assert_string_equal(hex_trace(&info.span_context->trace_id), TP_TRACE);
  rpct_span_context copy = *info.span_context;
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);
  assert_memory_equal(only_span()->span_id.bytes, copy.span_id.bytes, 8);
}

/* ====================================================================
 * Baggage (server side storage)
 * ==================================================================== */

static void test_server_keeps_inbound_baggage_in_canonical_form(void **state) {
  (void)state;
  rpct_md md[] = {md_("baggage", " user = alice "), md_("baggage", "tier=gold;p=1, bad entry")};
  rpct_call_info info = server_info(METHOD, NULL, md, 2);
  void *cd = cd_new(SERVER);
  assert_int_equal(SERVER->start(cd, &info), RPCT_FILTER_FOLLOW);
  assert_non_null(info.baggage);
  /* Without a grpc_call the copy lives in the call data. */
  assert_true((const char *)info.baggage >= (const char *)cd &&
              (const char *)info.baggage < (const char *)cd + SERVER->call_data_size);
  assert_int_equal(info.baggage_len, strlen("user=alice,tier=gold;p=1"));
  assert_memory_equal(info.baggage, "user=alice,tier=gold;p=1", info.baggage_len);
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);
}

static void test_server_drops_baggage_too_long_for_call_data(void **state) {
  (void)state;
  static char big[700];
  memset(big, 'x', sizeof big - 1);
  memcpy(big, "k=", 2);
  rpct_md md[] = {md_("baggage", big)};
  rpct_call_info info = server_info(METHOD, NULL, md, 1);
  void *cd = cd_new(SERVER);
  assert_int_equal(SERVER->start(cd, &info), RPCT_FILTER_FOLLOW);
  assert_null(info.baggage);
  assert_int_equal(info.baggage_len, 0);
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);
}

static void test_server_ignores_baggage_when_not_configured(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "tracecontext");
  rpct_md md[] = {md_("baggage", "k=v")};
  rpct_call_info info = server_info(METHOD, NULL, md, 1);
  void *cd = cd_new(SERVER);
  SERVER->start(cd, &info);
  assert_null(info.baggage);
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);
}

/* ====================================================================
 * Client → server through a writer
 * ==================================================================== */

static void round_trip(const char *propagators) {
  if (propagators) configure(RPCT__ENV_PROPAGATORS, propagators);
  rpct_memory_exporter_clear(T.memory);
  rpct_span_context grand = ctx_from(TP_VALID, "vendor=x");
  md_out m;
  rpct_span_context client_ctx;
  client_inject(&m, NULL, 0, &grand, "user=alice", &client_ctx);

  rpct_md req[32];
  size_t n = md_as_request(&m, req, RPCT__ARRAY_LEN(req));
  rpct_call_info info = server_info(METHOD, "svc:50051", req, n);
  void *cd = cd_new(SERVER);
  assert_int_equal(SERVER->start(cd, &info), RPCT_FILTER_FOLLOW);
  if (!propagators || strstr(propagators, "baggage")) {
    assert_non_null(info.baggage);
    assert_memory_equal(info.baggage, "user=alice", info.baggage_len);
  }
  finish(SERVER, cd, GRPC_STATUS_OK, NULL);

  static rpct_span_data c, s;
  assert_int_equal(n_spans(), 2);
  span_at(0, &c);
  span_at(1, &s);
  assert_int_equal(c.kind, RPCT_SPAN_KIND_CLIENT);
  assert_int_equal(s.kind, RPCT_SPAN_KIND_SERVER);
  assert_memory_equal(s.trace_id.bytes, c.trace_id.bytes, 16);
  assert_string_equal(hex_trace(&s.trace_id), TP_TRACE);
  assert_memory_equal(s.parent_span_id.bytes, c.span_id.bytes, 8);
  assert_memory_equal(c.span_id.bytes, client_ctx.span_id.bytes, 8);
  assert_true(s.parent_remote);
}

static void test_round_trip_makes_the_server_span_a_child_of_the_client_span(void **state) {
  (void)state;
  round_trip(NULL);
  static rpct_span_data s;
  span_at(1, &s);
  assert_string_equal(str_of(&s, s.tracestate), "vendor=x");
  round_trip("b3");
  round_trip("b3multi");
  /* grpc-trace-bin is injected first but not extracted: tracecontext is. */
  round_trip("grpc-trace-bin,tracecontext,baggage");
}

/* ====================================================================
 * Which calls are traced
 * ==================================================================== */

static int start_skip(const rpct_filter *f, const char *method) {
  rpct_call_info info =
      f == CLIENT ? client_info(method, NULL, NULL) : server_info(method, NULL, NULL, 0);
  return run_call(f, &info, GRPC_STATUS_OK, NULL);
}

static void test_health_checks_are_skipped_by_default(void **state) {
  (void)state;
  assert_int_equal(start_skip(CLIENT, "/grpc.health.v1.Health/Check"), RPCT_FILTER_SKIP);
  assert_int_equal(start_skip(SERVER, "/grpc.health.v1.Health/Watch"), RPCT_FILTER_SKIP);
  assert_int_equal(n_spans(), 0);
  assert_int_equal(start_skip(SERVER, "/grpc.health.v2.Health/Check"), RPCT_FILTER_FOLLOW);
  /* "none" clears the default. */
  configure(RPCT__ENV_EXCLUDE, "none");
  assert_int_equal(start_skip(CLIENT, "/grpc.health.v1.Health/Check"), RPCT_FILTER_FOLLOW);
  assert_int_equal(n_spans(), 2);
}

static void test_include_and_exclude_lists(void **state) {
  (void)state;
  setenv(RPCT__ENV_INCLUDE, "pkg.Service, /other.Svc/Get", 1);
  configure(RPCT__ENV_EXCLUDE, "pkg.Service/Secret,noise.Svc");
  static const struct {
    const char *method;
    int want;
  } cases[] = {
      {"/pkg.Service/Method", RPCT_FILTER_FOLLOW},
      {"/pkg.Service/Secret", RPCT_FILTER_SKIP},
      {"/other.Svc/Get", RPCT_FILTER_FOLLOW},
      {"/other.Svc/Put", RPCT_FILTER_SKIP},
      {"/noise.Svc/Get", RPCT_FILTER_SKIP},
      {"/pkg.ServiceX/Method", RPCT_FILTER_SKIP},
      {"/pkg/Service/Method", RPCT_FILTER_SKIP},
      /* The exclude list replaced the default: health is not included either. */
      {"/grpc.health.v1.Health/Check", RPCT_FILTER_SKIP},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++)
    for (const rpct_filter *f = CLIENT; f; f = f == CLIENT ? SERVER : NULL)
      if (start_skip(f, cases[i].method) != cases[i].want)
        fail_msg("%s on %s", cases[i].method, f->name);

  /* Exclude alone: the default is replaced, everything else traced. */
  unsetenv(RPCT__ENV_INCLUDE);
  configure(RPCT__ENV_EXCLUDE, "noise.Svc");
  assert_int_equal(start_skip(SERVER, "/grpc.health.v1.Health/Check"), RPCT_FILTER_FOLLOW);
  assert_int_equal(start_skip(SERVER, "/noise.Svc/Get"), RPCT_FILTER_SKIP);
  assert_int_equal(start_skip(SERVER, "/any.Svc/Get"), RPCT_FILTER_FOLLOW);
  /* Include "none": nothing is traced. */
  configure(RPCT__ENV_INCLUDE, "none");
  assert_int_equal(start_skip(CLIENT, "/any.Svc/Get"), RPCT_FILTER_SKIP);
  assert_int_equal(tu_diag_count, 0);
}

/* ====================================================================
 * Message events, A72 names, metadata
 * ==================================================================== */

static const char *event_attrs(const rpct_span_data *d, size_t i) {
  return attrs_of(d, RPCT_ATTR_OWNER_EVENT(i));
}

static void exchange_messages(const rpct_filter *f, rpct_call_info *info) {
  void *cd = cd_new(f);
  assert_int_equal(f->start(cd, info), RPCT_FILTER_FOLLOW);
  f->message_sent(cd, 10);
  f->message_sent(cd, 20);
  f->message_received(cd, 7);
  f->message_sent(cd, 0);
  f->message_received(cd, 8);
  finish(f, cd, GRPC_STATUS_OK, NULL);
}

static void test_message_events_are_off_by_default(void **state) {
  (void)state;
  rpct_call_info info = client_info(METHOD, NULL, NULL);
  exchange_messages(CLIENT, &info);
  assert_int_equal(only_span()->n_events, 0);
}

static void test_message_events_number_each_direction_from_one(void **state) {
  (void)state;
  configure(RPCT__ENV_MESSAGE_EVENTS, "true");
  static rpct_span_data d;
  for (const rpct_filter *f = CLIENT; f; f = f == CLIENT ? SERVER : NULL) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info =
        f == CLIENT ? client_info(METHOD, NULL, NULL) : server_info(METHOD, NULL, NULL, 0);
    exchange_messages(f, &info);
    d = *only_span();
    assert_int_equal(d.n_events, 5);
    for (size_t i = 0; i < 5; i++)
      assert_string_equal(str_of(&d, d.events[i].name), "rpc.message");
    assert_string_equal(event_attrs(&d, 0),
                        "rpc.message.type=SENT,rpc.message.id=1,rpc.message.uncompressed_size=10");
    assert_string_equal(event_attrs(&d, 1),
                        "rpc.message.type=SENT,rpc.message.id=2,rpc.message.uncompressed_size=20");
    assert_string_equal(
        event_attrs(&d, 2),
        "rpc.message.type=RECEIVED,rpc.message.id=1,rpc.message.uncompressed_size=7");
    assert_string_equal(event_attrs(&d, 3),
                        "rpc.message.type=SENT,rpc.message.id=3,rpc.message.uncompressed_size=0");
    assert_string_equal(
        event_attrs(&d, 4),
        "rpc.message.type=RECEIVED,rpc.message.id=2,rpc.message.uncompressed_size=8");
  }
}

/* The stable set deprecates the event: a unary call records none. */
static void test_stable_set_records_no_message_events_on_unary_calls(void **state) {
  (void)state;
  setenv(RPCT__ENV_SEMCONV, "rpc", 1);
  configure(RPCT__ENV_MESSAGE_EVENTS, "true");
  for (const rpct_filter *f = CLIENT; f; f = f == CLIENT ? SERVER : NULL) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info =
        f == CLIENT ? client_info(METHOD, NULL, NULL) : server_info(METHOD, NULL, NULL, 0);
    void *cd = cd_new(f);
    assert_int_equal(f->start(cd, &info), RPCT_FILTER_FOLLOW);
    f->message_sent(cd, 10);
    f->message_received(cd, 7);
    finish(f, cd, GRPC_STATUS_OK, NULL);
    assert_int_equal(only_span()->n_events, 0);
  }
}

/* ...and a streaming call records them all, the held first ones with their
 * own times, once a second message shows it streams. */
static void test_stable_set_records_message_events_once_a_call_streams(void **state) {
  (void)state;
  setenv(RPCT__ENV_SEMCONV, "rpc", 1);
  configure(RPCT__ENV_MESSAGE_EVENTS, "true");
  static rpct_span_data d;
  rpct_call_info info = client_info(METHOD, NULL, NULL);
  exchange_messages(CLIENT, &info);
  d = *only_span();
  assert_int_equal(d.n_events, 5);
  assert_string_equal(event_attrs(&d, 0),
                      "rpc.message.type=SENT,rpc.message.id=1,rpc.message.uncompressed_size=10");
  assert_string_equal(event_attrs(&d, 1),
                      "rpc.message.type=SENT,rpc.message.id=2,rpc.message.uncompressed_size=20");
  assert_string_equal(event_attrs(&d, 2),
                      "rpc.message.type=RECEIVED,rpc.message.id=1,rpc.message.uncompressed_size=7");
  assert_string_equal(event_attrs(&d, 4),
                      "rpc.message.type=RECEIVED,rpc.message.id=2,rpc.message.uncompressed_size=8");
  assert_true(d.events[0].time_unix_ns <= d.events[1].time_unix_ns);
}

static void test_a72_names_spans_and_message_events(void **state) {
  (void)state;
  setenv(RPCT__ENV_MESSAGE_EVENTS, "true", 1);
  configure(RPCT__ENV_SPAN_NAMES, "A72");
  static rpct_span_data c, s;
  rpct_call_info ci = client_info(METHOD, NULL, NULL);
  exchange_messages(CLIENT, &ci);
  rpct_call_info si = server_info(METHOD, NULL, NULL, 0);
  exchange_messages(SERVER, &si);
  span_at(0, &c);
  span_at(1, &s);
  assert_string_equal(str_of(&c, c.name), "Sent.pkg.Service/Method");
  assert_string_equal(str_of(&s, s.name), "Recv.pkg.Service/Method");
  assert_int_equal(c.n_events, 5);
  assert_string_equal(str_of(&c, c.events[0].name), "Outbound message");
  assert_string_equal(str_of(&c, c.events[2].name), "Inbound message");
  assert_string_equal(event_attrs(&c, 0), "sequence-number=0,message-size=10");
  assert_string_equal(event_attrs(&c, 1), "sequence-number=1,message-size=20");
  assert_string_equal(event_attrs(&c, 2), "sequence-number=0,message-size=7");
  assert_string_equal(event_attrs(&c, 3), "sequence-number=2,message-size=0");
  assert_string_equal(event_attrs(&c, 4), "sequence-number=1,message-size=8");
  assert_string_equal(str_of(&s, s.events[4].name), "Inbound message");
  /* Attribute names stay OpenTelemetry's. */
  assert_str_attr(&c, "rpc.method", "Method");
}

/* The status attributes are written last; a full record of events and the
 * longest tracestate must still leave them room. */
static void test_status_attributes_survive_a_full_event_record(void **state) {
  (void)state;
  setenv(RPCT__ENV_SEMCONV, "rpc/dup", 1);
  configure(RPCT__ENV_MESSAGE_EVENTS, "true");
  char ts[RPCT_TRACESTATE_MAX_LEN + 1];
  size_t used = 0;
  for (int i = 0; used + 31 <= RPCT_TRACESTATE_MAX_LEN; i++)
    used += (size_t)snprintf(ts + used, sizeof ts - used, "%sk%02d=%025d", used ? "," : "", i, i);
  rpct_span_context parent = ctx_from(TP_VALID, ts);
  rpct_call_info info =
      client_info(METHOD, "dns:///a-rather-long-host-name.example.com:443", &parent);
  void *cd = cd_new(CLIENT);
  CLIENT->start(cd, &info);
  for (int i = 0; i < 40; i++) {
    CLIENT->message_sent(cd, 1000000);
    CLIENT->message_received(cd, 1000000);
  }
  finish(CLIENT, cd, GRPC_STATUS_RESOURCE_EXHAUSTED, "quota");
  const rpct_span_data *d = only_span();
  assert_int_equal(d->n_events, RPCT_SPAN_MAX_EVENTS);
  assert_int_equal(d->dropped_events, 80 - RPCT_SPAN_MAX_EVENTS);
  assert_int_equal(d->dropped_attributes, 0);
  assert_int_attr(d, "rpc.grpc.status_code", GRPC_STATUS_RESOURCE_EXHAUSTED);
  assert_str_attr(d, "rpc.status_code", "RESOURCE_EXHAUSTED");
  assert_str_attr(d, "error.type", "RESOURCE_EXHAUSTED");
  assert_string_equal(str_of(d, d->status_message), "quota");
}

/* A string[] attribute's elements, joined by '|' for comparison. */
static const char *array_attr(const rpct_span_data *d, const char *key) {
  static char buf[512];
  const rpct_span_attr *a = find_attr(d, RPCT_ATTR_OWNER_SPAN, key);
  if (!a) return "(absent)";
  if (a->type != RPCT_VALUE_STRING_ARRAY) return "(not string[])";
  size_t cursor = 0, len, used = 0;
  const char *e;
  buf[0] = '\0';
  while (rpct_span_attr_array_next(d, a, &cursor, &e, &len))
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%.*s", used ? "|" : "", (int)len, e);
  return buf;
}

/* Runs a server call and a client call whose metadata the allow-lists
 * read: request x-tenant twice and user-agent; response headers
 * x-served-by twice; trailers x-served-by and x-cost. */
static void metadata_calls(rpct_span_data *server, rpct_span_data *client) {
  rpct_memory_exporter_clear(T.memory);
  rpct_md req[] = {md_("x-tenant", "a"), md_("user-agent", "grpc-c/29"), md_("x-tenant", "b"),
                   md_("x-secret", "s")};
  rpct_call_info si = server_info(METHOD, NULL, req, 4);
  run_call(SERVER, &si, GRPC_STATUS_OK, NULL);
  *server = *only_span();

  rpct_memory_exporter_clear(T.memory);
  grpc_metadata app[1];
  memset(app, 0, sizeof app);
  app[0].key = grpc_slice_from_static_string("x-tenant");
  app[0].value = grpc_slice_from_static_string("c");
  rpct_call_info ci = client_info(METHOD, NULL, NULL);
  void *cd = cd_new(CLIENT);
  CLIENT->start(cd, &ci);
  md_out m;
  writer_init(&m, app, 1);
  CLIENT->send_initial_metadata(cd, &m.w);
  rpct_md resp[] = {md_("x-served-by", "node-1"), md_("x-served-by", "node-2"),
                    md_("x-tenant", "no")};
  CLIENT->recv_initial_metadata(cd, resp, 3);
  rpct_md trailers[] = {md_("x-cost", "3"), md_("x-served-by", "node-3")};
  rpct_call_status st = {.code = GRPC_STATUS_OK, .trailing = trailers, .n_trailing = 2};
  CLIENT->status(cd, &st);
  CLIENT->end(cd);
  free(cd);
  *client = *only_span();
}

static void test_metadata_allow_list_records_string_arrays(void **state) {
  (void)state;
  static rpct_span_data s, c;
  setenv(RPCT__ENV_REQUEST_METADATA, "X-Tenant, user-agent,absent", 1);
  configure(RPCT__ENV_RESPONSE_METADATA, "x-served-by,x-cost");
  metadata_calls(&s, &c);
  /* Old set: rpc.grpc.*.metadata.<key>, one element per value. */
  assert_string_equal(array_attr(&s, "rpc.grpc.request.metadata.x-tenant"), "a|b");
  assert_string_equal(array_attr(&s, "rpc.grpc.request.metadata.user-agent"), "grpc-c/29");
  assert_no_attr(&s, "rpc.grpc.request.metadata.absent");
  assert_no_attr(&s, "rpc.grpc.request.metadata.x-secret");
  assert_no_attr(&s, "rpc.request.header.x-tenant");
  assert_string_equal(array_attr(&c, "rpc.grpc.request.metadata.x-tenant"), "c");
  assert_string_equal(array_attr(&c, "rpc.grpc.response.metadata.x-served-by"), "node-1|node-2");
  assert_no_attr(&c, "rpc.grpc.response.metadata.x-tenant");
  assert_no_attr(&c, "rpc.grpc.response.metadata.x-cost"); /* trailers: stable set only */
  assert_no_attr(&c, "rpc.response.trailer.x-cost");
  assert_int_equal(tu_diag_count, 0);
}

static void test_stable_set_records_headers_and_trailers(void **state) {
  (void)state;
  static rpct_span_data s, c;
  setenv(RPCT__ENV_SEMCONV, "rpc", 1);
  setenv(RPCT__ENV_REQUEST_METADATA, "x-tenant,user-agent", 1);
  configure(RPCT__ENV_RESPONSE_METADATA, "x-served-by,x-cost");
  metadata_calls(&s, &c);
  assert_string_equal(array_attr(&s, "rpc.request.header.x-tenant"), "a|b");
  assert_string_equal(array_attr(&s, "rpc.request.header.user-agent"), "grpc-c/29");
  assert_no_attr(&s, "rpc.grpc.request.metadata.x-tenant");
  assert_string_equal(array_attr(&c, "rpc.request.header.x-tenant"), "c");
  assert_string_equal(array_attr(&c, "rpc.response.header.x-served-by"), "node-1|node-2");
  assert_no_attr(&c, "rpc.response.header.x-cost");
  assert_string_equal(array_attr(&c, "rpc.response.trailer.x-served-by"), "node-3");
  assert_string_equal(array_attr(&c, "rpc.response.trailer.x-cost"), "3");
  assert_no_attr(&c, "rpc.grpc.response.metadata.x-served-by");

  /* rpc/dup: both keys, the same arrays. */
  configure(RPCT__ENV_SEMCONV, "rpc/dup");
  metadata_calls(&s, &c);
  assert_string_equal(array_attr(&s, "rpc.grpc.request.metadata.x-tenant"), "a|b");
  assert_string_equal(array_attr(&s, "rpc.request.header.x-tenant"), "a|b");
  assert_string_equal(array_attr(&c, "rpc.grpc.response.metadata.x-served-by"), "node-1|node-2");
  assert_string_equal(array_attr(&c, "rpc.response.header.x-served-by"), "node-1|node-2");
  assert_string_equal(array_attr(&c, "rpc.response.trailer.x-cost"), "3");
}

/* A server that registers methods and gets another path: _OTHER, the path
 * kept in rpc.method_original, and a span name a client cannot choose. */
static void test_unregistered_method_is_other(void **state) {
  (void)state;
  static rpct_span_data d;
  static const char *const modes[] = {NULL, "rpc", "rpc/dup"};
  static const char *const want[] = {
      /* old set: no _OTHER there; only the span name is bounded */
      "rpc.system=grpc,rpc.service=evil.Svc,rpc.method=Random123,rpc.grpc.status_code=12",
      "rpc.system.name=grpc,rpc.method=_OTHER,rpc.method_original=evil.Svc/Random123,"
      "rpc.status_code=UNIMPLEMENTED,error.type=UNIMPLEMENTED",
      "rpc.system=grpc,rpc.service=evil.Svc,rpc.method.deprecated=Random123,"
      "rpc.system.name=grpc,rpc.method=_OTHER,rpc.method_original=evil.Svc/Random123,"
      "rpc.grpc.status_code=12,rpc.status_code=UNIMPLEMENTED,error.type=UNIMPLEMENTED",
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(modes); i++) {
    if (modes[i])
      configure(RPCT__ENV_SEMCONV, modes[i]);
    else
      rpct__tracing_configure(); /* each test starts with no variable set */
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info = server_info("/evil.Svc/Random123", NULL, NULL, 0);
    info.method_registration = RPCT_METHOD_UNREGISTERED;
    run_call(SERVER, &info, GRPC_STATUS_UNIMPLEMENTED, NULL);
    d = *only_span();
    assert_string_equal(str_of(&d, d.name), "grpc");
    assert_string_equal(span_attrs(&d), want[i]);
  }
  /* Registered, or not knowable: the method as it came. */
  static const unsigned known[] = {RPCT_METHOD_REGISTERED, RPCT_METHOD_UNKNOWABLE};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(known); i++) {
    rpct_memory_exporter_clear(T.memory);
    rpct_call_info info = server_info(METHOD, NULL, NULL, 0);
    info.method_registration = known[i];
    run_call(SERVER, &info, GRPC_STATUS_OK, NULL);
    d = *only_span();
    assert_string_equal(str_of(&d, d.name), "pkg.Service/Method");
    assert_str_attr(&d, "rpc.method", "pkg.Service/Method");
    assert_no_attr(&d, "rpc.method_original");
  }
  /* A72 names keep their prefix. */
  configure(RPCT__ENV_SPAN_NAMES, "a72");
  rpct_memory_exporter_clear(T.memory);
  rpct_call_info info = server_info("/evil.Svc/Random123", NULL, NULL, 0);
  info.method_registration = RPCT_METHOD_UNREGISTERED;
  run_call(SERVER, &info, GRPC_STATUS_OK, NULL);
  assert_string_equal(str_of(only_span(), only_span()->name), "Recv.grpc");
}

/* ====================================================================
 * Configuration
 * ==================================================================== */

static void test_default_configuration(void **state) {
  (void)state;
  const rpct__tracing_config *c = &rpct__tracing;
  assert_int_equal(c->semconv, RPCT__SEMCONV_OLD);
  assert_int_equal(c->n_propagators, 2);
  assert_int_equal(c->propagators[0], RPCT__PROP_TRACECONTEXT);
  assert_int_equal(c->propagators[1], RPCT__PROP_BAGGAGE);
  assert_false(c->public_endpoint);
  assert_false(c->message_events);
  assert_false(c->a72_names);
  assert_false(c->include_set);
  assert_int_equal(c->exclude.n, 1);
  assert_memory_equal(c->exclude.buf, "grpc.health.v1.Health", 21);
  assert_int_equal(c->request_md.n, 0);
  assert_int_equal(c->response_md.n, 0);
}

static void test_propagators_keep_the_listed_order_without_duplicates(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, " B3Multi , tracecontext,b3multi,,grpc-trace-bin ");
  const rpct__tracing_config *c = &rpct__tracing;
  assert_int_equal(c->n_propagators, 3);
  assert_int_equal(c->propagators[0], RPCT__PROP_B3MULTI);
  assert_int_equal(c->propagators[1], RPCT__PROP_TRACECONTEXT);
  assert_int_equal(c->propagators[2], RPCT__PROP_GRPC_TRACE_BIN);
  assert_int_equal(tu_diag_count, 0);
}

static void test_invalid_values_are_reported_once_with_variable_and_default(void **state) {
  (void)state;
  setenv(RPCT__ENV_PROPAGATORS, "tracecontext,xray,jaeger", 1);
  setenv(RPCT__ENV_EXCLUDE, "a/b/c", 1);
  setenv(RPCT__ENV_INCLUDE, "pkg.Service/", 1);
  setenv(RPCT__ENV_PUBLIC_ENDPOINT, "yes", 1);
  setenv(RPCT__ENV_MESSAGE_EVENTS, "1", 1);
  setenv(RPCT__ENV_REQUEST_METADATA, "x-ok,grpc-trace-bin", 1);
  setenv(RPCT__ENV_RESPONSE_METADATA, "bad key", 1);
  setenv(RPCT__ENV_SPAN_NAMES, "opencensus", 1);
  rpct__tracing_configure();
  assert_string_equal(
      tu_diag,
      "OTEL_PROPAGATORS=\"tracecontext,xray,jaeger\": entry \"xray\" is not a supported "
      "propagator; ignored (default: \"tracecontext,baggage\")\n"
      "RPCTRACE_GRPC_EXCLUDE=\"a/b/c\": entry \"a/b/c\" is not pkg.Service or "
      "pkg.Service/Method; ignored (default: \"grpc.health.v1.Health\")\n"
      "RPCTRACE_GRPC_INCLUDE=\"pkg.Service/\": entry \"pkg.Service/\" is not pkg.Service or "
      "pkg.Service/Method; ignored (default: unset, every method)\n"
      "RPCTRACE_GRPC_PUBLIC_ENDPOINT=\"yes\" is not a boolean (true or false); using the "
      "default false\n"
      "RPCTRACE_GRPC_MESSAGE_EVENTS=\"1\" is not a boolean (true or false); using the default "
      "false\n"
      "RPCTRACE_GRPC_REQUEST_METADATA=\"x-ok,grpc-trace-bin\": entry \"grpc-trace-bin\" is a "
      "binary key, never recorded; ignored (default: none)\n"
      "RPCTRACE_GRPC_RESPONSE_METADATA=\"bad key\": entry \"bad key\" is not a metadata key; "
      "ignored (default: none)\n"
      "RPCTRACE_GRPC_SPAN_NAMES=\"opencensus\" is not \"otel\" or \"a72\"; using the default "
      "otel\n");
  assert_int_equal(tu_diag_count, 8);
  /* What stays usable is used; bad lists keep their defaults. */
  const rpct__tracing_config *c = &rpct__tracing;
  assert_int_equal(c->n_propagators, 1);
  assert_int_equal(c->propagators[0], RPCT__PROP_TRACECONTEXT);
  assert_int_equal(c->exclude.n, 1);
  assert_memory_equal(c->exclude.buf, "grpc.health.v1.Health", 21);
  assert_false(c->include_set);
  assert_int_equal(c->request_md.n, 1);
  assert_memory_equal(c->request_md.buf, "x-ok", 4);
  assert_int_equal(c->response_md.n, 0);
  assert_false(c->a72_names);
  /* Reading again reports nothing new. */
  rpct__tracing_configure();
  assert_int_equal(tu_diag_count, 8);
}

static void test_unknown_only_propagators_fall_back_to_the_default(void **state) {
  (void)state;
  configure(RPCT__ENV_PROPAGATORS, "xray");
  assert_int_equal(rpct__tracing.n_propagators, 2);
  assert_int_equal(tu_diag_count, 1);
  tu_diag_begin();
  configure(RPCT__ENV_PROPAGATORS, "none,b3");
  assert_int_equal(rpct__tracing.n_propagators, 0);
  assert_string_equal(tu_diag_last,
                      "OTEL_PROPAGATORS=\"none,b3\": \"none\" with other propagators; "
                      "propagating nothing (default: \"tracecontext,baggage\")");
}

static void test_metadata_keys_are_lowercased_and_bounded(void **state) {
  (void)state;
  char many[2048];
  size_t used = 0;
  for (int i = 0; i < 40; i++)
    used += (size_t)snprintf(many + used, sizeof many - used, "%sK-%02d", i ? "," : "", i);
  configure(RPCT__ENV_REQUEST_METADATA, many);
  const rpct__name_list *l = &rpct__tracing.request_md;
  assert_int_equal(l->n, RPCT__LIST_MAX);
  assert_memory_equal(l->buf + l->at[0].off, "k-00", 4);
  assert_memory_equal(l->buf + l->at[31].off, "k-31", 4);
  assert_int_equal(tu_diag_count, 1);
  assert_non_null(strstr(tu_diag_last, "entry \"K-32\" does not fit"));
}

int main(void) {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T_(test_status_codes_map_to_span_status_on_both_sides),
      T_(test_stable_status_attributes_name_the_code_and_error_type),
      T_(test_status_outside_the_known_codes_reads_as_unknown),
      T_(test_error_without_message_has_no_description),
      T_(test_default_attribute_set_is_the_old_one),
      T_(test_rpc_opt_in_gives_the_stable_attribute_set),
      T_(test_rpc_dup_gives_both_sets_with_the_stable_rpc_method),
      T_(test_semconv_entries_of_other_domains_are_ignored),
      T_(test_method_without_service_keeps_the_name_only),
      T_(test_target_parsing_table),
      T_(test_client_span_names_the_server_from_the_target),
      T_(test_server_span_names_the_server_from_the_authority),
      T_(test_peer_parsing_table),
      T_(test_client_injects_the_traceparent_of_its_span),
      T_(test_client_injects_tracestate_only_when_present),
      T_(test_client_injects_baggage_only_from_its_parent),
      T_(test_client_never_duplicates_an_application_traceparent),
      T_(test_client_injects_b3_b3multi_and_grpc_trace_bin_when_configured),
      T_(test_propagators_none_injects_nothing),
      T_(test_unsampled_client_still_propagates_its_context),
      T_(test_client_without_parent_is_a_root_whatever_the_thread_context),
      T_(test_client_publishes_its_span_context_and_parent_baggage),
      T_(test_server_continues_a_valid_traceparent),
      T_(test_server_starts_a_new_trace_for_a_duplicated_traceparent),
      T_(test_server_starts_a_new_trace_for_a_malformed_traceparent),
      T_(test_server_combines_tracestate_values_in_order),
      T_(test_server_without_trace_headers_starts_a_root),
      T_(test_server_ignores_traceparent_when_tracecontext_is_off),
      T_(test_server_extracts_b3_and_b3multi_when_configured),
      T_(test_server_never_extracts_grpc_trace_bin),
      T_(test_server_extracts_in_the_configured_order_first_valid_wins),
      T_(test_public_endpoint_starts_a_root_linked_to_the_caller),
      T_(test_public_endpoint_drops_the_callers_baggage),
      T_(test_public_endpoint_keeps_baggage_when_configured),
      T_(test_public_endpoint_baggage_reports_a_bad_value_and_drops),
      T_(test_server_publishes_its_span_context),
      T_(test_server_keeps_inbound_baggage_in_canonical_form),
      T_(test_server_drops_baggage_too_long_for_call_data),
      T_(test_server_ignores_baggage_when_not_configured),
      T_(test_round_trip_makes_the_server_span_a_child_of_the_client_span),
      T_(test_health_checks_are_skipped_by_default),
      T_(test_include_and_exclude_lists),
      T_(test_message_events_are_off_by_default),
      T_(test_message_events_number_each_direction_from_one),
      T_(test_stable_set_records_no_message_events_on_unary_calls),
      T_(test_stable_set_records_message_events_once_a_call_streams),
      T_(test_a72_names_spans_and_message_events),
      T_(test_status_attributes_survive_a_full_event_record),
      T_(test_metadata_allow_list_records_string_arrays),
      T_(test_stable_set_records_headers_and_trailers),
      T_(test_unregistered_method_is_other),
      T_(test_default_configuration),
      T_(test_propagators_keep_the_listed_order_without_duplicates),
      T_(test_invalid_values_are_reported_once_with_variable_and_default),
      T_(test_unknown_only_propagators_fall_back_to_the_default),
      T_(test_metadata_keys_are_lowercased_and_bounded),
  };
#undef T_
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
