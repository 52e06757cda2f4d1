/* OTLP/JSON lines exporter (src/export/otlp_json_exporter.c): the exact
 * line written for each kind of record, grouping by resource and scope,
 * escaping, numbers, the file exporter, errors, and the failing allocator.
 * Expected lines are written out in full and compared byte for byte. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test_util.h"

/* ---- hand-made span records ---- */

static rpct_str rec_strn(rpct_span_data *d, const char *s, size_t n) {
  assert_true(d->strings_used + n + 1 <= sizeof d->strings);
  rpct_str r = {.off = d->strings_used, .len = (uint16_t)n};
  memcpy(d->strings + d->strings_used, s, n);
  d->strings[d->strings_used + n] = '\0';
  d->strings_used = (uint16_t)(d->strings_used + n + 1);
  return r;
}

static rpct_str rec_str(rpct_span_data *d, const char *s) { return rec_strn(d, s, strlen(s)); }

static rpct_span_attr *rec_attr(rpct_span_data *d, uint8_t owner, const char *key,
                                rpct_value_type type) {
  assert_true(d->n_attrs < RPCT_SPAN_MAX_ATTRIBUTES);
  rpct_span_attr *a = &d->attrs[d->n_attrs++];
  a->key = rec_str(d, key);
  a->type = (uint8_t)type;
  a->owner = owner;
  return a;
}

static void rec_attr_str(rpct_span_data *d, uint8_t owner, const char *key, const char *value) {
  rec_attr(d, owner, key, RPCT_VALUE_STRING)->v.s = rec_str(d, value);
}

static void rec_attr_int(rpct_span_data *d, uint8_t owner, const char *key, int64_t value) {
  rec_attr(d, owner, key, RPCT_VALUE_INT)->v.i = value;
}

#define TRACE_HEX "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN_HEX "00f067aa0ba902b7"
#define PARENT_HEX "53ce929d0e0e4736"
#define LINK_TRACE_HEX "0af7651916cd43dd8448eb211c80319c"
#define LINK_SPAN_HEX "b7ad6b7169203331"
#define START_NS UINT64_C(1700000000123456789)
#define START_STR "1700000000123456789"
#define END_STR "1700000000126456789" /* START + 3 ms */

/* A sampled root span, 3 ms long, status UNSET, scope rpctrace 0.1.0. */
static void rec_init(rpct_span_data *d, const char *name, rpct_span_kind kind,
                     const rpct_resource *res) {
  memset(d, 0, sizeof *d);
  assert_int_equal(rpct_trace_id_parse(TRACE_HEX, 32, &d->trace_id), RPCT_OK);
  assert_int_equal(rpct_span_id_parse(SPAN_HEX, 16, &d->span_id), RPCT_OK);
  d->flags = RPCT_TRACE_FLAG_SAMPLED;
  d->kind = (uint8_t)kind;
  d->name = rec_str(d, name);
  d->start_unix_ns = START_NS;
  d->end_unix_ns = START_NS + 3000000;
  d->resource = res;
  d->scope_name = "rpctrace";
  d->scope_version = "0.1.0";
}

static rpct_resource *resource_of(const char *service, const char *host) {
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "service.name", service), RPCT_OK);
  if (host) assert_int_equal(rpct_resource_set(r, "host.name", host), RPCT_OK);
  return r;
}

/* clang-format off */
/* Parts of expected lines. */
#define IDS "\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" SPAN_HEX "\""
#define TIMES "\"startTimeUnixNano\":\"" START_STR "\",\"endTimeUnixNano\":\"" END_STR "\""
#define SCOPE "\"scope\":{\"name\":\"rpctrace\",\"version\":\"0.1.0\"}"
#define RESOURCE(service) \
  "\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"" service "\"}}]}"
/* A span made by rec_init alone, of kind INTERNAL. */
#define MIN_SPAN(name) "{" IDS ",\"flags\":257,\"name\":\"" name "\",\"kind\":1," TIMES "}"
/* The request holding one span under resource service.name=svc. */
#define ONE_SPAN_LINE(span) \
  "{\"resourceSpans\":[{" RESOURCE("svc") ",\"scopeSpans\":[{" SCOPE ",\"spans\":[" span "]}]}]}\n"
/* clang-format on */

/* ---- output captured from a temporary file ---- */

#define OUT_MAX ((size_t)64 * 1024)

static char *read_all(FILE *f) {
  char *out = malloc(OUT_MAX);
  assert_non_null(out);
  rewind(f);
  size_t got = fread(out, 1, OUT_MAX - 1, f);
  out[got] = '\0';
  return out;
}

/* The line one export of `spans` writes (caller frees). */
static char *json_of(const rpct_span_data *const *spans, size_t n) {
  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, spans, n), 0);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  rpct_exporter_del(e);
  char *out = read_all(f);
  fclose(f);
  return out;
}

static char *json_of_one(const rpct_span_data *d) {
  const rpct_span_data *batch[1] = {d};
  return json_of(batch, 1);
}

static int setup_diag(void **state) {
  (void)state;
  tu_diag_begin();
  unsetenv("RPCTRACE_OTLP_FILE_PATH");
  return 0;
}

static int teardown_diag(void **state) {
  (void)state;
  tu_diag_end();
  unsetenv("RPCTRACE_OTLP_FILE_PATH");
  return 0;
}

/* ==== the records of the format tests (also fed to the JSON parser) ==== */

static void make_client_span(rpct_span_data *d, const rpct_resource *res) {
  rec_init(d, "/shop.Cart/Add", RPCT_SPAN_KIND_CLIENT, res);
  rec_attr_str(d, RPCT_ATTR_OWNER_SPAN, "rpc.system", "grpc");
  rec_attr_int(d, RPCT_ATTR_OWNER_SPAN, "rpc.grpc.status_code", 14);
  rec_attr(d, RPCT_ATTR_OWNER_SPAN, "retry.ratio", RPCT_VALUE_DOUBLE)->v.d = 0.25;
  rec_attr(d, RPCT_ATTR_OWNER_SPAN, "retry.final", RPCT_VALUE_BOOL)->v.b = true;
  d->status_code = RPCT_STATUS_ERROR;
  d->status_message = rec_str(d, "connection refused");
}

/* clang-format off */
static const char client_line[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"checkout\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}}]},"
    "\"scopeSpans\":[{" SCOPE ",\"spans\":[{" IDS ",\"flags\":257,\"name\":\"/shop.Cart/Add\","
    "\"kind\":3," TIMES ",\"attributes\":["
    "{\"key\":\"rpc.system\",\"value\":{\"stringValue\":\"grpc\"}},"
    "{\"key\":\"rpc.grpc.status_code\",\"value\":{\"intValue\":\"14\"}},"
    "{\"key\":\"retry.ratio\",\"value\":{\"doubleValue\":0.25}},"
    "{\"key\":\"retry.final\",\"value\":{\"boolValue\":true}}],"
    "\"status\":{\"message\":\"connection refused\",\"code\":2}}]}]}]}\n";
/* clang-format on */

/* Span, event and link attributes interleaved in the record, as a span
 * that adds them in turn would leave them. */
static void make_server_span(rpct_span_data *d, const rpct_resource *res) {
  rec_init(d, "/shop.Cart/Add", RPCT_SPAN_KIND_SERVER, res);
  assert_int_equal(rpct_span_id_parse(PARENT_HEX, 16, &d->parent_span_id), RPCT_OK);
  d->parent_remote = true;
  d->tracestate = rec_str(d, "congo=t61rcWkgMzE");
  d->n_events = 2;
  d->events[0].time_unix_ns = START_NS + 1000;
  d->events[0].name = rec_str(d, "message");
  d->events[1].name = rec_str(d, "cancelled");
  d->events[1].dropped_attributes = 2;
  d->n_links = 1;
  assert_int_equal(rpct_trace_id_parse(LINK_TRACE_HEX, 32, &d->links[0].trace_id), RPCT_OK);
  assert_int_equal(rpct_span_id_parse(LINK_SPAN_HEX, 16, &d->links[0].span_id), RPCT_OK);
  d->links[0].flags = RPCT_TRACE_FLAG_SAMPLED;
  d->links[0].tracestate = rec_str(d, "rojo=00f067aa0ba902b7");
  d->links[0].dropped_attributes = 3;
  rec_attr_str(d, RPCT_ATTR_OWNER_EVENT(0), "message.type", "RECEIVED");
  rec_attr_str(d, RPCT_ATTR_OWNER_SPAN, "rpc.method", "Add");
  rec_attr_str(d, RPCT_ATTR_OWNER_LINK(0), "link.reason", "retry");
  rec_attr_int(d, RPCT_ATTR_OWNER_EVENT(0), "message.id", 1);
  d->dropped_attributes = 1;
  d->dropped_events = 4;
  d->dropped_links = 5;
  d->status_code = RPCT_STATUS_OK;
}

/* clang-format off */
static const char server_line[] =
    "{\"resourceSpans\":[{" RESOURCE("checkout") ",\"scopeSpans\":[{" SCOPE ",\"spans\":[{" IDS
    ",\"traceState\":\"congo=t61rcWkgMzE\",\"parentSpanId\":\"" PARENT_HEX "\",\"flags\":769,"
    "\"name\":\"/shop.Cart/Add\",\"kind\":2," TIMES ","
    "\"attributes\":[{\"key\":\"rpc.method\",\"value\":{\"stringValue\":\"Add\"}}],"
    "\"droppedAttributesCount\":1,"
    "\"events\":[{\"timeUnixNano\":\"1700000000123457789\",\"name\":\"message\",\"attributes\":["
    "{\"key\":\"message.type\",\"value\":{\"stringValue\":\"RECEIVED\"}},"
    "{\"key\":\"message.id\",\"value\":{\"intValue\":\"1\"}}]},"
    "{\"name\":\"cancelled\",\"droppedAttributesCount\":2}],"
    "\"droppedEventsCount\":4,"
    "\"links\":[{\"traceId\":\"" LINK_TRACE_HEX "\",\"spanId\":\"" LINK_SPAN_HEX "\","
    "\"traceState\":\"rojo=00f067aa0ba902b7\","
    "\"attributes\":[{\"key\":\"link.reason\",\"value\":{\"stringValue\":\"retry\"}}],"
    "\"droppedAttributesCount\":3,\"flags\":1}],"
    "\"droppedLinksCount\":5,\"status\":{\"code\":1}}]}]}]}\n";
/* clang-format on */

/* Escaping, in a span's name: input bytes (`len` given, so a NUL can be
 * inside) and the JSON string written, quotes excluded. */
/* clang-format off */
static const struct {
  const char *in;
  size_t len;
  const char *json;
} escapes[] = {
    {"say \"hi\"", 8, "say \\\"hi\\\""},
    {"C:\\dir", 6, "C:\\\\dir"},
    {"a\nb\tc\rd", 7, "a\\nb\\tc\\rd"},
    {"\b\f", 2, "\\b\\f"},
    {"x\x01y\x1fz", 5, "x\\u0001y\\u001fz"},
    {"a\0b", 3, "a\\u0000b"},
    {"del\x7f", 4, "del\x7f"},
    {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
    {"\xe2\x82\xac \xf0\x9f\x98\x80", 8, "\xe2\x82\xac \xf0\x9f\x98\x80"},
    {"bad\xff", 4, "bad\xef\xbf\xbd"},
    {"cut\xc3", 4, "cut\xef\xbf\xbd"},
    {"\xe2\x82x", 3, "\xef\xbf\xbdx"},                  /* a truncated sequence: one U+FFFD */
    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},             /* overlong '/' */
    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  /* a surrogate */
    {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* above U+10FFFF */
    {"\x80\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},             /* lone continuation bytes */
};
/* clang-format on */

static void make_escape_span(rpct_span_data *d, const rpct_resource *res, size_t i) {
  rec_init(d, "", RPCT_SPAN_KIND_INTERNAL, res);
  d->name = rec_strn(d, escapes[i].in, escapes[i].len);
}

/* Attribute values as written. */
static const struct {
  rpct_value_type type;
  int64_t i;
  double d;
  const char *json;
} numbers[] = {
    {RPCT_VALUE_INT, INT64_MIN, 0, "{\"intValue\":\"-9223372036854775808\"}"},
    {RPCT_VALUE_INT, INT64_MAX, 0, "{\"intValue\":\"9223372036854775807\"}"},
    {RPCT_VALUE_INT, 0, 0, "{\"intValue\":\"0\"}"},
    {RPCT_VALUE_DOUBLE, 0, NAN, "{\"doubleValue\":\"NaN\"}"},
    {RPCT_VALUE_DOUBLE, 0, INFINITY, "{\"doubleValue\":\"Infinity\"}"},
    {RPCT_VALUE_DOUBLE, 0, -INFINITY, "{\"doubleValue\":\"-Infinity\"}"},
    {RPCT_VALUE_DOUBLE, 0, 0.1, "{\"doubleValue\":0.1}"},
    {RPCT_VALUE_DOUBLE, 0, 0.1 + 0.2, "{\"doubleValue\":0.30000000000000004}"},
    {RPCT_VALUE_DOUBLE, 0, 1.0 / 3.0, "{\"doubleValue\":0.3333333333333333}"},
    {RPCT_VALUE_DOUBLE, 0, 1e300, "{\"doubleValue\":1e+300}"},
    {RPCT_VALUE_DOUBLE, 0, -2.5e-8, "{\"doubleValue\":-2.5e-08}"},
    {RPCT_VALUE_DOUBLE, 0, 123456.0, "{\"doubleValue\":123456}"},
    {RPCT_VALUE_DOUBLE, 0, -0.0, "{\"doubleValue\":-0}"},
    {RPCT_VALUE_DOUBLE, 0, 0.0, "{\"doubleValue\":0}"},
    {RPCT_VALUE_BOOL, 0, 0, "{\"boolValue\":false}"},
    {RPCT_VALUE_STRING, 0, 0, "{\"stringValue\":\"\"}"},
    {(rpct_value_type)9, 0, 0, "{}"},
};

static void make_number_span(rpct_span_data *d, const rpct_resource *res, size_t i) {
  rec_init(d, "n", RPCT_SPAN_KIND_INTERNAL, res);
  rpct_span_attr *a = rec_attr(d, RPCT_ATTR_OWNER_SPAN, "v", numbers[i].type);
  if (numbers[i].type == RPCT_VALUE_INT) a->v.i = numbers[i].i;
  if (numbers[i].type == RPCT_VALUE_DOUBLE) a->v.d = numbers[i].d;
  if (numbers[i].type == RPCT_VALUE_STRING) a->v.s = rec_str(d, "");
}

/* ==== format ==== */

static void test_client_root_span_with_typed_attributes_and_error_status(void **state) {
  (void)state;
  rpct_resource *res = resource_of("checkout", "h1");
  rpct_span_data d;
  make_client_span(&d, res);
  char *out = json_of_one(&d);
  assert_string_equal(out, client_line);
  free(out);
  rpct_resource_del(res);
}

static void test_server_span_with_remote_parent_event_and_link(void **state) {
  (void)state;
  rpct_resource *res = resource_of("checkout", NULL);
  rpct_span_data d;
  make_server_span(&d, res);
  char *out = json_of_one(&d);
  assert_string_equal(out, server_line);
  free(out);
  rpct_resource_del(res);
}

static void test_local_parent_sets_has_is_remote_only(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "child", RPCT_SPAN_KIND_INTERNAL, res);
  assert_int_equal(rpct_span_id_parse(PARENT_HEX, 16, &d.parent_span_id), RPCT_OK);
  d.flags = RPCT_TRACE_FLAG_SAMPLED | RPCT_TRACE_FLAG_RANDOM;
  char *out = json_of_one(&d);
  /* clang-format off */
  assert_string_equal(out, ONE_SPAN_LINE("{" IDS ",\"parentSpanId\":\"" PARENT_HEX
                                         "\",\"flags\":259,\"name\":\"child\",\"kind\":1," TIMES
                                         "}"));
  /* clang-format on */
  free(out);
  rpct_resource_del(res);
}

static void test_batch_groups_by_resource_then_scope_in_first_appearance_order(void **state) {
  (void)state;
  rpct_resource *r1 = resource_of("a", NULL);
  rpct_resource *r2 = resource_of("b", NULL);
  static char other_rpctrace[] = "rpctrace"; /* same scope, another pointer */
  rpct_span_data s[6];
  rec_init(&s[0], "A", RPCT_SPAN_KIND_INTERNAL, r1);
  rec_init(&s[1], "B", RPCT_SPAN_KIND_INTERNAL, r2);
  rec_init(&s[2], "C", RPCT_SPAN_KIND_INTERNAL, r1);
  s[2].scope_name = "grpc.client";
  s[2].scope_version = NULL;
  rec_init(&s[3], "D", RPCT_SPAN_KIND_INTERNAL, r1);
  s[3].scope_name = other_rpctrace;
  rec_init(&s[4], "E", RPCT_SPAN_KIND_INTERNAL, NULL);
  s[4].scope_name = NULL;
  s[4].scope_version = NULL;
  rec_init(&s[5], "F", RPCT_SPAN_KIND_INTERNAL, r2);
  const rpct_span_data *batch[6] = {&s[0], &s[1], &s[2], &s[3], &s[4], &s[5]};
  char *out = json_of(batch, 6);
  /* clang-format off */
  assert_string_equal(out, "{\"resourceSpans\":["
                           "{" RESOURCE("a") ",\"scopeSpans\":["
                           "{" SCOPE ",\"spans\":[" MIN_SPAN("A") "," MIN_SPAN("D") "]},"
                           "{\"scope\":{\"name\":\"grpc.client\"},\"spans\":[" MIN_SPAN("C") "]}]},"
                           "{" RESOURCE("b") ",\"scopeSpans\":["
                           "{" SCOPE ",\"spans\":[" MIN_SPAN("B") "," MIN_SPAN("F") "]}]},"
                           "{\"scopeSpans\":[{\"spans\":[" MIN_SPAN("E") "]}]}"
                           "]}\n");
  /* clang-format on */
  free(out);
  rpct_resource_del(r1);
  rpct_resource_del(r2);
}

static void test_strings_are_escaped_and_invalid_utf8_replaced(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(escapes); i++) {
    rpct_span_data d;
    make_escape_span(&d, res, i);
    char want[1024];
    snprintf(want, sizeof want,
             ONE_SPAN_LINE("{" IDS ",\"flags\":257,\"name\":\"%s\",\"kind\":1," TIMES "}"),
             escapes[i].json);
    char *out = json_of_one(&d);
    if (strcmp(out, want) != 0) print_error("escape case %zu\n", i);
    assert_string_equal(out, want);
    free(out);
  }
  rpct_resource_del(res);
}

static void test_keys_resource_and_scope_strings_are_escaped_too(void **state) {
  (void)state;
  rpct_resource *res = NULL;
  assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(res, "k\"ey", "line\nbreak\xff"), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "s", RPCT_SPAN_KIND_INTERNAL, res);
  d.scope_name = "sc\\ope";
  d.scope_version = "\x01";
  rec_attr_str(&d, RPCT_ATTR_OWNER_SPAN, "a\tb", "\xc3\xa9\"");
  char *out = json_of_one(&d);
  /* clang-format off */
  assert_string_equal(
      out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\\\"ey\",\"value\":{"
           "\"stringValue\":\"line\\nbreak\xef\xbf\xbd\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
           "\"sc\\\\ope\",\"version\":\"\\u0001\"},\"spans\":[{" IDS
           ",\"flags\":257,\"name\":\"s\",\"kind\":1," TIMES
           ",\"attributes\":[{\"key\":\"a\\tb\",\"value\":{\"stringValue\":\"\xc3\xa9\\\"\"}}]}]}]}]}\n");
  /* clang-format on */
  free(out);
  rpct_resource_del(res);
}

/* string[] as {"arrayValue":{"values":[...]}}, empty as {"arrayValue":{}}. */
static void test_string_arrays_as_array_values(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "a", RPCT_SPAN_KIND_SERVER, res);
  /* Elements one after another, each followed by a NUL. */
  static const char elems[] = "x\0\0q\"\xff";
  rpct_span_attr *a = rec_attr(&d, RPCT_ATTR_OWNER_SPAN, "h", RPCT_VALUE_STRING_ARRAY);
  a->n_values = 3;
  a->v.s = rec_strn(&d, elems, sizeof elems - 1);
  rec_attr(&d, RPCT_ATTR_OWNER_SPAN, "none", RPCT_VALUE_STRING_ARRAY);
  char *out = json_of_one(&d);
  assert_string_equal(
      out, ONE_SPAN_LINE("{" IDS ",\"flags\":257,\"name\":\"a\",\"kind\":2," TIMES
                         ",\"attributes\":[{\"key\":\"h\",\"value\":{\"arrayValue\":{\"values\":["
                         "{\"stringValue\":\"x\"},{\"stringValue\":\"\"},"
                         "{\"stringValue\":\"q\\\"\xef\xbf\xbd\"}]}}},"
                         "{\"key\":\"none\",\"value\":{\"arrayValue\":{}}}]}"));
  free(out);
  rpct_resource_del(res);
}

static void test_int64_as_strings_and_doubles_as_numbers_or_special_strings(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(numbers); i++) {
    rpct_span_data d;
    make_number_span(&d, res, i);
    char want[1024];
    snprintf(want, sizeof want,
             ONE_SPAN_LINE("{" IDS ",\"flags\":257,\"name\":\"n\",\"kind\":1," TIMES
                           ",\"attributes\":[{\"key\":\"v\",\"value\":%s}]}"),
             numbers[i].json);
    char *out = json_of_one(&d);
    if (strcmp(out, want) != 0) print_error("number case %zu\n", i);
    assert_string_equal(out, want);
    free(out);
  }
  rpct_resource_del(res);
}

static void test_out_of_bounds_record_strings_are_written_empty(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "x", RPCT_SPAN_KIND_INTERNAL, res);
  d.name = (rpct_str){.off = RPCT_SPAN_STRING_BYTES - 2, .len = 10};
  char *out = json_of_one(&d);
  assert_string_equal(out,
                      ONE_SPAN_LINE("{" IDS ",\"flags\":257,\"name\":\"\",\"kind\":1," TIMES "}"));
  free(out);
  rpct_resource_del(res);
}

/* Spans made by a tracer, read back from its memory exporter. */
static void test_spans_from_a_real_tracer(void **state) {
  (void)state;
  tu_tracer t = tu_tracer_new(NULL, NULL);
  rpct_span_context remote;
  static const char tp[] = "00-" TRACE_HEX "-" PARENT_HEX "-01";
  assert_int_equal(rpct_traceparent_parse(tp, sizeof tp - 1, &remote), RPCT_OK);
  rpct_span server = {0}, client = {0};
  rpct_span_start_args sa = {.name = "/svc/M",
                             .name_len = RPCT_NTS,
                             .kind = RPCT_SPAN_KIND_SERVER,
                             .parent = &remote,
                             .start_unix_ns = START_NS};
  assert_int_equal(rpct_span_start_ex(&server, t.tracer, &sa), RPCT_OK);
  rpct_span_start_args ca = {.name = "/up/N",
                             .name_len = RPCT_NTS,
                             .kind = RPCT_SPAN_KIND_CLIENT,
                             .parent = rpct_span_get_context(&server),
                             .start_unix_ns = START_NS + 1000};
  assert_int_equal(rpct_span_start_ex(&client, t.tracer, &ca), RPCT_OK);
  assert_int_equal(rpct_span_set_int(&client, "attempt", 2), RPCT_OK);
  assert_int_equal(rpct_span_end(&client, START_NS + 2000), RPCT_OK);
  assert_int_equal(rpct_span_end(&server, START_NS + 3000000), RPCT_OK);

  assert_int_equal(rpct_memory_exporter_count(t.memory), 2);
  rpct_span_data *recs = calloc(2, sizeof *recs);
  assert_non_null(recs);
  assert_int_equal(rpct_memory_exporter_get(t.memory, 0, &recs[0]), RPCT_OK);
  assert_int_equal(rpct_memory_exporter_get(t.memory, 1, &recs[1]), RPCT_OK);
  const rpct_span_data *batch[2] = {&recs[1], &recs[0]};
  char *out = json_of(batch, 2);

  char server_id[17], client_id[17];
  tu_hex(recs[1].span_id.bytes, 8, server_id);
  tu_hex(recs[0].span_id.bytes, 8, client_id);
  char want[2048];
  /* The sampled flag comes from the remote parent; the tracer adds no
   * random flag to a trace it did not start. */
  /* clang-format off */
  snprintf(want, sizeof want,
           "{\"resourceSpans\":[{" RESOURCE("unit-test") ",\"scopeSpans\":[{" SCOPE ",\"spans\":["
           "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"%s\",\"parentSpanId\":\"" PARENT_HEX
           "\",\"flags\":769,\"name\":\"/svc/M\",\"kind\":2,\"startTimeUnixNano\":\"" START_STR
           "\",\"endTimeUnixNano\":\"" END_STR "\"},"
           "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\","
           "\"flags\":257,\"name\":\"/up/N\",\"kind\":3,"
           "\"startTimeUnixNano\":\"1700000000123457789\",\"endTimeUnixNano\":\"1700000000123458789\","
           "\"attributes\":[{\"key\":\"attempt\",\"value\":{\"intValue\":\"2\"}}]}"
           "]}]}]}\n",
           server_id, client_id, server_id);
  /* clang-format on */
  assert_string_equal(out, want);
  free(out);
  free(recs);
  rpct_tracer_del(t.tracer);
}

/* ==== the file exporter ==== */

static char *temp_path(void) {
  char *path = strdup("/tmp/rpct-otlp-json-XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  return path;
}

static char *file_contents(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *out = read_all(f);
  fclose(f);
  return out;
}

static void export_one_to_file(const char *path, const char *name) {
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, name, RPCT_SPAN_KIND_INTERNAL, res);
  const rpct_span_data *batch[1] = {&d};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_file_exporter_new(&e, path, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  rpct_exporter_del(e);
  rpct_resource_del(res);
}

static void test_file_exporter_appends_one_line_per_export(void **state) {
  (void)state;
  char *path = temp_path();
  export_one_to_file(path, "first");
  export_one_to_file(path, "second");
  char *got = file_contents(path);
  assert_string_equal(got, ONE_SPAN_LINE(MIN_SPAN("first")) ONE_SPAN_LINE(MIN_SPAN("second")));
  free(got);
  unlink(path);
  free(path);
}

static void test_file_exporter_path_from_env_is_trimmed(void **state) {
  (void)state;
  char *path = temp_path();
  char padded[256];
  snprintf(padded, sizeof padded, " \t%s  ", path);
  setenv("RPCTRACE_OTLP_FILE_PATH", padded, 1);
  export_one_to_file(NULL, "env");
  char *got = file_contents(path);
  assert_string_equal(got, ONE_SPAN_LINE(MIN_SPAN("env")));
  free(got);
  unlink(path);
  free(path);
}

static void test_file_exporter_default_path_in_working_directory(void **state) {
  (void)state;
  char old_cwd[4096];
  assert_non_null(getcwd(old_cwd, sizeof old_cwd));
  char dir[] = "/tmp/rpct-otlp-dir-XXXXXX";
  assert_non_null(mkdtemp(dir));
  assert_int_equal(chdir(dir), 0);
  setenv("RPCTRACE_OTLP_FILE_PATH", "   ", 1); /* blank: as if unset */
  export_one_to_file(NULL, "default");
  char *got = file_contents("rpctrace-traces.jsonl");
  assert_string_equal(got, ONE_SPAN_LINE(MIN_SPAN("default")));
  free(got);
  assert_int_equal(unlink("rpctrace-traces.jsonl"), 0);
  assert_int_equal(chdir(old_cwd), 0);
  assert_int_equal(rmdir(dir), 0);
}

static void test_file_exporter_bad_path_is_io_error_naming_the_path(void **state) {
  (void)state;
  static const char path[] = "/nonexistent-rpctrace-dir/sub/traces.jsonl";
  rpct_exporter *sentinel = (rpct_exporter *)&tu_diag_count;
  rpct_exporter *e = sentinel;
  assert_int_equal(rpct_otlp_file_exporter_new(&e, path, NULL), RPCT_ERR_IO);
  assert_ptr_equal(e, sentinel);
  char want[512];
  snprintf(want, sizeof want, "OTLP/JSON exporter: cannot open \"%s\" for appending: %s", path,
           strerror(ENOENT));
  assert_string_equal(tu_diag_last, want);
  assert_int_equal(tu_diag_count, 1);
  /* Not reported once only: each explicit call says why it failed. */
  assert_int_equal(rpct_otlp_file_exporter_new(&e, path, NULL), RPCT_ERR_IO);
  assert_int_equal(tu_diag_count, 2);
}

static void test_constructors_reject_null_arguments(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(NULL, stdout, NULL),
                   RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_otlp_file_exporter_new(NULL, "x", NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_null(e);
}

/* ==== errors and shutdown ==== */

static void test_export_after_shutdown_is_state_error(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "s", RPCT_SPAN_KIND_INTERNAL, res);
  const rpct_span_data *batch[1] = {&d};

  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_STATE);
  assert_int_equal(rpct_exporter_force_flush(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  rpct_exporter_del(e);
  /* The borrowed stream is still open and holds the one line. */
  char *got = read_all(f);
  assert_string_equal(got, ONE_SPAN_LINE(MIN_SPAN("s")));
  free(got);
  fclose(f);

  char *path = temp_path();
  assert_int_equal(rpct_otlp_file_exporter_new(&e, path, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_force_flush(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_STATE);
  rpct_exporter_del(e);
  got = file_contents(path);
  assert_string_equal(got, "");
  free(got);
  unlink(path);
  free(path);
  rpct_resource_del(res);
}

static void test_failed_write_is_io_error_reported_once(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (!f) {
    print_message("skipped: /dev/full cannot be opened (%s)\n", strerror(errno));
    skip();
  }
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "s", RPCT_SPAN_KIND_INTERNAL, res);
  const rpct_span_data *batch[1] = {&d};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_IO);
  char want[256];
  snprintf(want, sizeof want, "OTLP/JSON exporter: writing to its stream failed: %s",
           strerror(ENOSPC));
  assert_string_equal(tu_diag_last, want);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_IO);
  assert_int_equal(tu_diag_count, 1);
  rpct_exporter_del(e);
  fclose(f);

  /* The file exporter names its file. */
  tu_diag_begin();
  assert_int_equal(rpct_otlp_file_exporter_new(&e, "/dev/full", NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_IO);
  snprintf(want, sizeof want, "OTLP/JSON exporter: writing to \"/dev/full\" failed: %s",
           strerror(ENOSPC));
  assert_string_equal(tu_diag_last, want);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  rpct_exporter_del(e);
  rpct_resource_del(res);
}

/* Users may export from several threads at once: each line stays whole. */
enum { THREADS = 4, EXPORTS_PER_THREAD = 50 };

typedef struct thread_arg {
  rpct_exporter *e;
  const rpct_span_data *d;
} thread_arg;

static void *export_repeatedly(void *p) {
  thread_arg *a = p;
  for (int i = 0; i < EXPORTS_PER_THREAD; i++)
    if (rpct_exporter_export(a->e, &a->d, 1) != 0) return p;
  return NULL;
}

static void test_concurrent_exports_write_whole_lines(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "t", RPCT_SPAN_KIND_INTERNAL, res);
  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  thread_arg arg = {.e = e, .d = &d};
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, export_repeatedly, &arg), 0);
  for (int i = 0; i < THREADS; i++) {
    void *failed = &arg;
    assert_int_equal(pthread_join(th[i], &failed), 0);
    assert_null(failed);
  }
  rpct_exporter_del(e);

  static const char line[] = ONE_SPAN_LINE(MIN_SPAN("t"));
  rewind(f);
  char buf[sizeof line];
  int lines = 0;
  while (fgets(buf, sizeof buf, f)) {
    assert_string_equal(buf, line);
    lines++;
  }
  assert_int_equal(lines, THREADS * EXPORTS_PER_THREAD);
  fclose(f);
  rpct_resource_del(res);
}

/* ==== allocation ==== */

typedef int (*ctor_fn)(const rpct_allocator *a, rpct_exporter **out, const char *path);

static int make_stream(const rpct_allocator *a, rpct_exporter **out, const char *path) {
  (void)path;
  return rpct_otlp_json_exporter_new_stream(out, stdout, a);
}

static int make_file(const rpct_allocator *a, rpct_exporter **out, const char *path) {
  return rpct_otlp_file_exporter_new(out, path, a);
}

static void walk(ctor_fn make, const char *path) {
  for (long k = 0;; k++) {
    assert_true(k < 50);
    tu_alloc_state fa = {.fail_at = k, .fail_only = 1};
    rpct_allocator a = tu_allocator(&fa);
    rpct_exporter *sentinel = (rpct_exporter *)&fa;
    rpct_exporter *e = sentinel;
    int r = make(&a, &e, path);
    if (r == RPCT_OK) {
      assert_true(k > 0);
      assert_true(e != sentinel && e != NULL);
      rpct_exporter_del(e);
      assert_int_equal(fa.live, 0);
      return;
    }
    assert_int_equal(r, RPCT_ERR_NO_MEMORY);
    assert_ptr_equal(e, sentinel);
    assert_int_equal(fa.live, 0);
    /* Out of memory creates no file. */
    if (path) assert_int_not_equal(access(path, F_OK), 0);
  }
}

static void test_failing_allocator_walks_both_constructors(void **state) {
  (void)state;
  walk(make_stream, NULL);
  char dir[] = "/tmp/rpct-otlp-dir-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/traces.jsonl", dir);
  walk(make_file, path);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* A batch whose line outgrows the initial buffer needs one allocation on
 * the export thread; when it fails nothing is written and the next export
 * works. A buffer grown past 1 MiB is not kept. */
static void test_export_allocation_failure_and_large_buffer_release(void **state) {
  (void)state;
  rpct_resource *res = resource_of("svc", NULL);
  rpct_span_data d;
  rec_init(&d, "s", RPCT_SPAN_KIND_INTERNAL, res);
  enum { SMALL = 200, LARGE = 8000 }; /* ~40 KB and ~1.6 MB of JSON */
  const rpct_span_data **batch = calloc(LARGE, sizeof(const rpct_span_data *));
  assert_non_null(batch);
  for (size_t i = 0; i < LARGE; i++) batch[i] = &d;

  FILE *f = tmpfile();
  assert_non_null(f);
  tu_alloc_state fa = {.fail_at = -1};
  rpct_allocator a = tu_allocator(&fa);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, &a), RPCT_OK);
  long base = fa.live; /* exporter handle, state, 16 KiB buffer */

  /* A small batch fits the initial buffer: no allocation. */
  long calls = fa.calls;
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(fa.calls, calls);

  fa.fail_at = fa.calls; /* every allocation from now on fails */
  assert_int_equal(rpct_exporter_export(e, batch, SMALL), RPCT_ERR_NO_MEMORY);
  assert_int_equal(fa.live, base);
  /* cppcheck-suppress redundantAssignment ; read by the allocator above */
  fa.fail_at = -1;
  assert_int_equal(rpct_exporter_export(e, batch, SMALL), 0);
  assert_int_equal(fa.live, base); /* the grown buffer replaced the first */

  assert_int_equal(rpct_exporter_export(e, batch, LARGE), 0);
  assert_int_equal(fa.live, base - 1); /* released after the write */
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(fa.live, base);

  rpct_exporter_del(e);
  assert_int_equal(fa.live, 0);

  /* One line per successful export, the failed one left no trace. */
  fseek(f, 0, SEEK_SET);
  int c, lines = 0;
  while ((c = fgetc(f)) != EOF) lines += c == '\n';
  assert_int_equal(lines, 4);
  fclose(f);
  free(batch);
  rpct_resource_del(res);
}

/* ==== every line above parses as JSON ==== */

static void test_lines_parse_as_json_with_node(void **state) {
  (void)state;
  if (system("command -v node >/dev/null 2>&1") != 0) {
    print_message("skipped: node is not installed; the JSON check needs it\n");
    skip();
  }
  rpct_resource *res = resource_of("checkout", "h1");
  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_json_exporter_new_stream(&e, f, NULL), RPCT_OK);
  rpct_span_data *recs =
      calloc(2 + RPCT__ARRAY_LEN(escapes) + RPCT__ARRAY_LEN(numbers), sizeof *recs);
  assert_non_null(recs);
  size_t n = 0;
  make_client_span(&recs[n++], res);
  make_server_span(&recs[n++], res);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(escapes); i++) make_escape_span(&recs[n++], res, i);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(numbers); i++) make_number_span(&recs[n++], res, i);
  /* Each record alone, then all in one request. */
  const rpct_span_data **batch = calloc(n, sizeof(const rpct_span_data *));
  assert_non_null(batch);
  for (size_t i = 0; i < n; i++) {
    batch[i] = &recs[i];
    assert_int_equal(rpct_exporter_export(e, &batch[i], 1), 0);
  }
  assert_int_equal(rpct_exporter_export(e, batch, n), 0);
  rpct_exporter_del(e);
  char *all = read_all(f);
  fclose(f);

  /* Every line must parse, and there must be as many as exports. */
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "node -e 'const ls = require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\\n\");"
           " ls.forEach(l => JSON.parse(l));"
           " if (ls.length !== Number(process.argv[1])) process.exit(3);' %zu",
           n + 1);
  FILE *node = popen(cmd, "w");
  assert_non_null(node);
  size_t len = strlen(all);
  assert_int_equal(fwrite(all, 1, len, node), len);
  int status = pclose(node);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  free(all);
  free(batch);
  free(recs);
  rpct_resource_del(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_root_span_with_typed_attributes_and_error_status),
      cmocka_unit_test(test_server_span_with_remote_parent_event_and_link),
      cmocka_unit_test(test_local_parent_sets_has_is_remote_only),
      cmocka_unit_test(test_string_arrays_as_array_values),
      cmocka_unit_test(test_batch_groups_by_resource_then_scope_in_first_appearance_order),
      cmocka_unit_test(test_strings_are_escaped_and_invalid_utf8_replaced),
      cmocka_unit_test(test_keys_resource_and_scope_strings_are_escaped_too),
      cmocka_unit_test(test_int64_as_strings_and_doubles_as_numbers_or_special_strings),
      cmocka_unit_test(test_out_of_bounds_record_strings_are_written_empty),
      cmocka_unit_test(test_spans_from_a_real_tracer),
      cmocka_unit_test_setup_teardown(test_file_exporter_appends_one_line_per_export, setup_diag,
                                      teardown_diag),
      cmocka_unit_test_setup_teardown(test_file_exporter_path_from_env_is_trimmed, setup_diag,
                                      teardown_diag),
      cmocka_unit_test_setup_teardown(test_file_exporter_default_path_in_working_directory,
                                      setup_diag, teardown_diag),
      cmocka_unit_test_setup_teardown(test_file_exporter_bad_path_is_io_error_naming_the_path,
                                      setup_diag, teardown_diag),
      cmocka_unit_test(test_constructors_reject_null_arguments),
      cmocka_unit_test(test_export_after_shutdown_is_state_error),
      cmocka_unit_test_setup_teardown(test_failed_write_is_io_error_reported_once, setup_diag,
                                      teardown_diag),
      cmocka_unit_test(test_concurrent_exports_write_whole_lines),
      cmocka_unit_test(test_failing_allocator_walks_both_constructors),
      cmocka_unit_test(test_export_allocation_failure_and_large_buffer_release),
      cmocka_unit_test(test_lines_parse_as_json_with_node),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
