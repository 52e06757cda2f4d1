/* OTLP protobuf -> OTLP/JSON for `rpctrace collect` (tools/otlp_pb_json.c):
 * the exact line for a request with every field and every AnyValue kind,
 * the same line after a pack/unpack round trip and read back by the JSON
 * parser, byte-for-byte agreement with the otlp_file exporter for records
 * of a real tracer, base64, and the nesting check on the wire. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/otlp_pb.h"
#include "full_request.h"
#include "internal.h"
#include "json.h"
#include "otlp_pb_json.h"
#include "test_util.h"


#define ANY_INIT OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT
#define KV_INIT OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT

/* `req` as JSON: a malloc'd NUL-terminated string. */
static char *to_json(const rtt_pb_request *req) {
  rpct__json_buf b;
  rpct__json_init(&b, NULL, 0);
  rtt_otlp_request_to_json(&b, req);
  assert_false(b.oom);
  char *s = malloc(b.len + 1);
  assert_non_null(s);
  memcpy(s, b.buf, b.len);
  s[b.len] = '\0';
  rpct__json_release(&b);
  return s;
}

static void test_full_request_is_written_exactly(void **state) {
  (void)state;
  full *f = malloc(sizeof *f);
  assert_non_null(f);
  build_full(f);
  char *json = to_json(&f->req);
  assert_string_equal(json, full_json);
  assert_int_equal(rtt_otlp_request_span_count(&f->req), 1);
  free(json);
  free(f);
}

/* Packed and unpacked (strings come back as protobuf-c makes them), then
 * read by the parser: the fields hold the values put in. */
static void test_round_trip_through_the_wire_and_the_parser(void **state) {
  (void)state;
  full *f = malloc(sizeof *f);
  assert_non_null(f);
  build_full(f);
  /* protobuf-c packs strings up to their NUL and checks nothing more; the
   * invalid UTF-8 value is left out of the wire trip. */
  f->span.n_attributes = 9;
  size_t len =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
          &f->req);
  uint8_t *wire = malloc(len);
  assert_non_null(wire);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&f->req, wire);
  assert_true(rtt_otlp_wire_depth_ok(wire, len, RTT_OTLP_MAX_DEPTH));
  rtt_pb_request *back =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                       wire);
  assert_non_null(back);
  char *direct = to_json(&f->req);
  char *json = to_json(back);
  assert_string_equal(json, direct);

  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  assert_int_equal(rtt_json_parse(json, strlen(json), 0, &doc, &err), RTT_JSON_OK);
  const rtt_json *rs = rtt_json_at(rtt_json_get(rtt_json_root(doc), "resourceSpans"), 0);
  const rtt_json *ss = rtt_json_at(rtt_json_get(rs, "scopeSpans"), 0);
  const rtt_json *span = rtt_json_at(rtt_json_get(ss, "spans"), 0);
  assert_string_equal(rtt_json_str(rtt_json_get(span, "traceId")),
                      "0102030405060708090a0b0c0d0e0f10");
  assert_string_equal(rtt_json_str(rtt_json_get(span, "parentSpanId")), "b1b2b3b4b5b6b7b8");
  uint64_t end;
  assert_true(rtt_json_u64(rtt_json_get(span, "endTimeUnixNano"), &end));
  assert_true(end == UINT64_MAX);
  assert_string_equal(rtt_json_get(span, "kind")->u.number.text, "2");
  const rtt_json *attrs = rtt_json_get(span, "attributes");
  assert_int_equal(rtt_json_array_len(attrs), 9);
  const rtt_json *s0 = rtt_json_get(rtt_json_get(rtt_json_at(attrs, 0), "value"), "stringValue");
  assert_int_equal(s0->u.string.len, 7);
  assert_memory_equal(s0->u.string.s, "h\"i\n\x01\xC3\xA9", 7);
  int64_t i;
  assert_true(
      rtt_json_i64(rtt_json_get(rtt_json_get(rtt_json_at(attrs, 2), "value"), "intValue"), &i));
  assert_true(i == INT64_MIN);
  assert_true(
      rtt_json_get(rtt_json_get(rtt_json_at(attrs, 3), "value"), "doubleValue")->u.number.value ==
      0.1);
  const rtt_json *arr = rtt_json_get(
      rtt_json_get(rtt_json_get(rtt_json_at(attrs, 4), "value"), "arrayValue"), "values");
  assert_int_equal(rtt_json_array_len(arr), 3);
  assert_string_equal(rtt_json_str(rtt_json_get(rtt_json_at(arr, 0), "stringValue")), "x");
  assert_int_equal(rtt_json_get(rtt_json_at(arr, 2), "arrayValue")->u.object.n, 0);
  const rtt_json *kv = rtt_json_get(
      rtt_json_get(rtt_json_get(rtt_json_at(attrs, 5), "value"), "kvlistValue"), "values");
  assert_string_equal(rtt_json_str(rtt_json_get(rtt_json_at(kv, 0), "key")), "in");
  assert_true(rtt_json_get(rtt_json_get(rtt_json_at(kv, 0), "value"), "boolValue")->u.boolean);
  assert_string_equal(
      rtt_json_str(rtt_json_get(rtt_json_get(rtt_json_at(attrs, 6), "value"), "bytesValue")),
      "AP8Q");
  assert_int_equal(rtt_json_get(rtt_json_at(attrs, 7), "value")->u.object.n, 0);
  assert_string_equal(
      rtt_json_str(rtt_json_get(rtt_json_get(rtt_json_at(attrs, 8), "value"), "doubleValue")),
      "NaN");
  assert_string_equal(rtt_json_str(rtt_json_get(rtt_json_get(span, "status"), "message")), "bad");
  rtt_json_doc_free(doc);

  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(back,
                                                                                          NULL);
  free(direct);
  free(json);
  free(wire);
  free(f);
}

/* A request of one span with nothing set, in an empty resource and scope. */
typedef struct bare {
  pb_resource_spans rs, *rsp;
  pb_resource res;
  pb_scope_spans ss, *ssp;
  pb_scope scope;
  pb_span span, *spanp;
  pb_status st;
} bare;

static void build_bare(bare *b, rtt_pb_request *req) {
  opentelemetry__proto__trace__v1__resource_spans__init(&b->rs);
  opentelemetry__proto__resource__v1__resource__init(&b->res);
  opentelemetry__proto__trace__v1__scope_spans__init(&b->ss);
  opentelemetry__proto__common__v1__instrumentation_scope__init(&b->scope);
  opentelemetry__proto__trace__v1__span__init(&b->span);
  opentelemetry__proto__trace__v1__status__init(&b->st);
  b->span.status = &b->st;
  b->spanp = &b->span;
  b->ss.scope = &b->scope;
  b->ss.n_spans = 1;
  b->ss.spans = &b->spanp;
  b->ssp = &b->ss;
  b->rs.resource = &b->res;
  b->rs.n_scope_spans = 1;
  b->rs.scope_spans = &b->ssp;
  b->rsp = &b->rs;
  req->n_resource_spans = 1;
  req->resource_spans = &b->rsp;
}

static void test_defaults_are_left_out(void **state) {
  (void)state;
  rtt_pb_request req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  char *json = to_json(&req);
  assert_string_equal(json, "{\"resourceSpans\":[]}");
  free(json);

  /* A span with nothing set: only the always-written fields; an empty
   * resource and scope and an UNSET status are left out. */
  bare b;
  build_bare(&b, &req);
  json = to_json(&req);
  assert_string_equal(json,
                      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"\","
                      "\"spanId\":\"\",\"flags\":0,\"name\":\"\",\"kind\":0,"
                      "\"startTimeUnixNano\":\"0\",\"endTimeUnixNano\":\"0\"}]}]}]}");
  free(json);
}

static void test_base64_of_every_length_remainder(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"", "\"\""},
      {"f", "\"Zg==\""},
      {"fo", "\"Zm8=\""},
      {"foo", "\"Zm9v\""},
      {"foob", "\"Zm9vYg==\""},
      {"fooba", "\"Zm9vYmE=\""},
      {"foobar", "\"Zm9vYmFy\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rpct__json_buf b;
    rpct__json_init(&b, NULL, 0);
    rpct__json_base64(&b, (const uint8_t *)cases[i].in, strlen(cases[i].in));
    assert_int_equal(b.len, strlen(cases[i].out));
    assert_memory_equal(b.buf, cases[i].out, b.len);
    rpct__json_release(&b);
  }
}

/* ---- agreement with the otlp_file exporter ---- */

/* Spans from a real tracer: the line the JSON exporter writes for them
 * equals the line `collect` writes for the protobuf the OTLP/gRPC exporter
 * sends for them. */
static void test_matches_the_otlp_file_exporter_byte_for_byte(void **state) {
  (void)state;
  tu_tracer t = tu_tracer_new(NULL, NULL);
  rpct_span_context parent;
  memset(&parent, 0, sizeof parent);
  assert_int_equal(rpct_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                          55, &parent),
                   RPCT_OK);
  parent.remote = true;
  assert_int_equal(rpct_tracestate_set(&parent.tracestate, "vendor", "x1"), RPCT_OK);
  static rpct_span a, b;
  rpct_span_start(&a, t.tracer, "pkg.Svc/Method", RPCT_SPAN_KIND_SERVER, &parent);
  rpct_span_set_str(&a, "rpc.system", "grpc");
  rpct_span_set_str(&a, "text", "quote\" back\\ nl\n \x01 \xC3\xA9 bad\xFF");
  rpct_span_set_int(&a, "rpc.grpc.status_code", -3);
  rpct_span_set_double(&a, "ratio", 0.3);
  rpct_span_set_double(&a, "inf", INFINITY);
  rpct_span_set_bool(&a, "flag", true);
  rpct_attribute ev[2] = {RPCT_ATTR_INT("size", 12), RPCT_ATTR_STR("dir", "sent")};
  rpct_span_add_event(&a, "message", 0, ev, 2);
  rpct_span_add_link(&a, &parent, ev, 1);
  rpct_span_start(&b, t.tracer, "child", RPCT_SPAN_KIND_CLIENT, rpct_span_get_context(&a));
  rpct_span_set_status(&b, RPCT_STATUS_ERROR, "failed: \"x\"");
  rpct_span_end(&b, 0);
  rpct_span_end(&a, 0);

  size_t n = rpct_memory_exporter_count(t.memory);
  assert_int_equal(n, 2);
  rpct_span_data *recs = calloc(n, sizeof *recs);
  const rpct_span_data *ptrs[2];
  assert_non_null(recs);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(rpct_memory_exporter_get(t.memory, i, &recs[i]), RPCT_OK);
    ptrs[i] = &recs[i];
  }

  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, ptrs, n), 0);
  rpct_exporter_shutdown(e, 1000);
  rpct_exporter_del(e);
  long size = ftell(f);
  assert_true(size > 0);
  char *line = malloc((size_t)size + 1);
  assert_non_null(line);
  rewind(f);
  assert_int_equal(fread(line, 1, (size_t)size, f), (size_t)size);
  line[size] = '\0';
  fclose(f);

  uint8_t *wire = NULL;
  size_t wire_len = 0;
  assert_int_equal(rpct__otlp_encode(ptrs, n, NULL, &wire, &wire_len), RPCT_OK);
  rtt_pb_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
          NULL, wire_len, wire);
  assert_non_null(req);
  char *json = to_json(req);
  size_t jl = strlen(json);
  assert_int_equal((size_t)size, jl + 1);
  assert_memory_equal(line, json, jl);
  assert_int_equal(line[jl], '\n');

  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
  rpct__free(NULL, wire);
  free(json);
  free(line);
  free(recs);
  rpct_tracer_del(t.tracer);
}

/* ---- nesting ---- */

/* Serialized bytes built from the inside out: each wrap() makes the bytes
 * so far the length-delimited field `field` of a new enclosing message. */
typedef struct wire {
  uint8_t buf[4096];
  size_t start; /* bytes are buf[start..sizeof buf) */
} wire;

static void prepend(wire *w, uint8_t byte) {
  assert_true(w->start > 0);
  w->buf[--w->start] = byte;
}

static void prepend_varint(wire *w, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    v >>= 7;
  } while (v);
  while (n) prepend(w, tmp[--n]);
}

static void wrap(wire *w, unsigned field) {
  prepend_varint(w, sizeof w->buf - w->start);
  prepend_varint(w, (uint64_t)field << 3 | 2);
}

/* A request whose one attribute value is `levels` arrays deep. */
static void deep_request(wire *w, unsigned levels) {
  w->start = sizeof w->buf; /* the innermost AnyValue is empty */
  for (unsigned i = 0; i < levels; i++) {
    wrap(w, 1); /* ArrayValue.values */
    wrap(w, 5); /* AnyValue.array_value */
  }
  wrap(w, 2); /* KeyValue.value */
  wrap(w, 9); /* Span.attributes */
  wrap(w, 2); /* ScopeSpans.spans */
  wrap(w, 2); /* ResourceSpans.scope_spans */
  wrap(w, 1); /* ExportTraceServiceRequest.resource_spans */
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_wire_depth_check_is_exact(void **state) {
  (void)state;
  static wire w;
  /* The request is level 1, the attribute's AnyValue level 6, and each
   * array adds two: 29 arrays put the innermost AnyValue at level 64. */
  deep_request(&w, 29);
  const uint8_t *data = w.buf + w.start;
  size_t len = sizeof w.buf - w.start;
  assert_true(rtt_otlp_wire_depth_ok(data, len, RTT_OTLP_MAX_DEPTH));
  rtt_pb_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                       data);
  assert_non_null(req);
  char *json = to_json(req);
  assert_int_equal(count(json, "arrayValue"), 29);
  free(json);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);

  deep_request(&w, 30);
  assert_false(rtt_otlp_wire_depth_ok(w.buf + w.start, sizeof w.buf - w.start, RTT_OTLP_MAX_DEPTH));
  /* A smaller limit, and the trivial cases. */
  deep_request(&w, 1);
  assert_true(rtt_otlp_wire_depth_ok(w.buf + w.start, sizeof w.buf - w.start, 8));
  assert_false(rtt_otlp_wire_depth_ok(w.buf + w.start, sizeof w.buf - w.start, 7));
  assert_true(rtt_otlp_wire_depth_ok(NULL, 0, 0));
  /* Malformed bytes are left to protobuf-c. */
  static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
  assert_true(rtt_otlp_wire_depth_ok(garbage, sizeof garbage, RTT_OTLP_MAX_DEPTH));
  assert_null(opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, sizeof garbage, garbage));
}

/* A hand-made message deeper than the limit (never from the wire: the
 * check refuses it) is cut: values past the limit are written {}. */
static void test_converter_cuts_values_past_the_limit(void **state) {
  (void)state;
  enum { LEVELS = 40 };
  pb_any anys[LEVELS + 1], *any_p[LEVELS];
  pb_array arrays[LEVELS];
  for (int i = 0; i <= LEVELS; i++) opentelemetry__proto__common__v1__any_value__init(&anys[i]);
  for (int i = 0; i < LEVELS; i++) {
    opentelemetry__proto__common__v1__array_value__init(&arrays[i]);
    any_p[i] = &anys[i + 1];
    arrays[i].n_values = 1;
    arrays[i].values = &any_p[i];
    anys[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    anys[i].array_value = &arrays[i];
  }
  pb_kv kv = KV_INIT, *kvp = &kv;
  kv.key = (char *)"deep";
  kv.value = &anys[0];
  pb_span span = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT, *spanp = &span;
  span.n_attributes = 1;
  span.attributes = &kvp;
  pb_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT, *ssp = &ss;
  ss.n_spans = 1;
  ss.spans = &spanp;
  pb_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT, *rsp = &rs;
  rs.n_scope_spans = 1;
  rs.scope_spans = &ssp;
  rtt_pb_request req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = 1;
  req.resource_spans = &rsp;
  char *json = to_json(&req);
  /* AnyValues at levels 6, 8, ..., 64 are written: 30 of them. */
  assert_int_equal(count(json, "arrayValue"), 30);
  rtt_json_doc *doc = NULL;
  assert_int_equal(rtt_json_parse(json, strlen(json), 0, &doc, NULL), RTT_JSON_OK);
  rtt_json_doc_free(doc);
  free(json);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_request_is_written_exactly),
      cmocka_unit_test(test_round_trip_through_the_wire_and_the_parser),
      cmocka_unit_test(test_defaults_are_left_out),
      cmocka_unit_test(test_base64_of_every_length_remainder),
      cmocka_unit_test(test_matches_the_otlp_file_exporter_byte_for_byte),
      cmocka_unit_test(test_wire_depth_check_is_exact),
      cmocka_unit_test(test_converter_cuts_values_past_the_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
