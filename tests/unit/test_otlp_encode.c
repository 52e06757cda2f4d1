/* OTLP encoding: what rpct__otlp_encode packs, decoded back with
 * protobuf-c, field by field; grouping by resource and scope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "export/otlp_pb.h"
#include "internal.h"
#include "test_util.h"


static tu_tracer T;

static int setup(void **state) {
  (void)state;
  T = tu_tracer_new(NULL, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  return 0;
}

static pb_request *encode_decode(const rpct_span_data *const *spans, size_t n) {
  uint8_t *buf;
  size_t len;
  assert_int_equal(rpct__otlp_encode(spans, n, NULL, &buf, &len), RPCT_OK);
  pb_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, buf);
  free(buf);
  assert_non_null(req);
  return req;
}

static void free_request(pb_request *r) {
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
}

static const char *hex_of(ProtobufCBinaryData b) {
  static char out[2][33];
  static int which;
  which ^= 1;
  tu_hex(b.data, b.len, out[which]);
  return out[which];
}

static void test_encode_writes_every_span_field(void **state) {
  (void)state;
  rpct_span_context remote, linked;
  const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const char *tp2 = "00-11111111111111111111111111111111-2222222222222222-01";
  rpct_traceparent_parse(tp, strlen(tp), &remote);
  rpct_tracestate_parse("congo=t61rcWkgMzE", 17, &remote.tracestate);
  rpct_traceparent_parse(tp2, strlen(tp2), &linked);
  rpct_tracestate_parse("rojo=1", 6, &linked.tracestate);

  rpct_span span;
  rpct_span_start_args args = {.name = "user.v1.UserService/GetUser", .name_len = RPCT_NTS,
                               .kind = RPCT_SPAN_KIND_SERVER, .parent = &remote,
                               .start_unix_ns = 1700000000000000001ull};
  rpct_span_start_ex(&span, T.tracer, &args);
  rpct_span_set_str(&span, "rpc.system", "grpc");
  rpct_span_set_int(&span, "rpc.grpc.status_code", -5);
  rpct_span_set_double(&span, "ratio", 0.25);
  rpct_span_set_bool(&span, "ok", false);
  rpct_attribute ea[] = {RPCT_ATTR_STR("message.type", "RECEIVED"), RPCT_ATTR_INT("message.id", 1)};
  rpct_span_add_event(&span, "message", 1700000000000000500ull, ea, 2);
  rpct_attribute la = RPCT_ATTR_BOOL("public", true);
  rpct_span_add_link(&span, &linked, &la, 1);
  rpct_span_set_status(&span, RPCT_STATUS_ERROR, "no such user");
  rpct_span_end(&span, 1700000000000001000ull);
  rpct_span_data d;
  assert_int_equal(rpct_memory_exporter_get(T.memory, 0, &d), RPCT_OK);
  d.dropped_attributes = 3;
  d.dropped_events = 4;
  d.dropped_links = 5;

  const rpct_span_data *list[] = {&d};
  pb_request *req = encode_decode(list, 1);
  assert_int_equal(req->n_resource_spans, 1);
  assert_int_equal(req->resource_spans[0]->n_scope_spans, 1);
  Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
  assert_string_equal(ss->scope->name, "rpctrace");
  assert_string_equal(ss->scope->version, RPCT_VERSION_STRING);
  assert_int_equal(ss->n_spans, 1);
  pb_span *s = ss->spans[0];
  assert_string_equal(hex_of(s->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  assert_int_equal(s->span_id.len, 8);
  assert_memory_equal(s->span_id.data, d.span_id.bytes, 8);
  assert_string_equal(hex_of(s->parent_span_id), "00f067aa0ba902b7");
  assert_string_equal(s->trace_state, "congo=t61rcWkgMzE");
  assert_int_equal(s->flags, 0x301); /* sampled | has-is-remote | is-remote */
  assert_string_equal(s->name, "user.v1.UserService/GetUser");
  assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
  assert_int_equal(s->start_time_unix_nano, 1700000000000000001ull);
  assert_int_equal(s->end_time_unix_nano, 1700000000000001000ull);
  assert_int_equal(s->n_attributes, 4);
  assert_string_equal(s->attributes[0]->key, "rpc.system");
  assert_string_equal(s->attributes[0]->value->string_value, "grpc");
  assert_string_equal(s->attributes[1]->key, "rpc.grpc.status_code");
  assert_int_equal(s->attributes[1]->value->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
  assert_int_equal(s->attributes[1]->value->int_value, -5);
  assert_true(s->attributes[2]->value->double_value == 0.25);
  assert_int_equal(s->attributes[3]->value->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
  assert_false(s->attributes[3]->value->bool_value);
  assert_int_equal(s->dropped_attributes_count, 3);
  assert_int_equal(s->n_events, 1);
  assert_int_equal(s->events[0]->time_unix_nano, 1700000000000000500ull);
  assert_string_equal(s->events[0]->name, "message");
  assert_int_equal(s->events[0]->n_attributes, 2);
  assert_string_equal(s->events[0]->attributes[0]->value->string_value, "RECEIVED");
  assert_int_equal(s->events[0]->attributes[1]->value->int_value, 1);
  assert_int_equal(s->dropped_events_count, 4);
  assert_int_equal(s->n_links, 1);
  assert_string_equal(hex_of(s->links[0]->trace_id), "11111111111111111111111111111111");
  assert_string_equal(hex_of(s->links[0]->span_id), "2222222222222222");
  assert_string_equal(s->links[0]->trace_state, "rojo=1");
  assert_int_equal(s->links[0]->flags, 0x01); /* remote-ness unknown: bits 8-9 clear */
  assert_int_equal(s->links[0]->n_attributes, 1);
  assert_true(s->links[0]->attributes[0]->value->bool_value);
  assert_int_equal(s->dropped_links_count, 5);
  assert_int_equal(s->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
  assert_string_equal(s->status->message, "no such user");
  Opentelemetry__Proto__Resource__V1__Resource *res = req->resource_spans[0]->resource;
  assert_int_equal(res->n_attributes, 1);
  assert_string_equal(res->attributes[0]->key, "service.name");
  assert_string_equal(res->attributes[0]->value->string_value, "unit-test");
  free_request(req);
}

static void test_encode_string_arrays_as_array_values(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "s", RPCT_SPAN_KIND_SERVER, NULL);
  static const char *const v[] = {"a", "", "b c"};
  rpct_span_set_str_array(&span, "rpc.request.header.x-tenant", v, NULL, 3);
  rpct_span_set_str_array(&span, "empty", NULL, NULL, 0);
  rpct_span_set_str(&span, "plain", "p");
  rpct_span_end(&span, 0);
  rpct_span_data d;
  assert_int_equal(rpct_memory_exporter_get(T.memory, 0, &d), RPCT_OK);
  const rpct_span_data *one = &d;
  pb_request *req = encode_decode(&one, 1);
  const pb_span *sp = req->resource_spans[0]->scope_spans[0]->spans[0];
  assert_int_equal(sp->n_attributes, 3);
  const pb_any *x = sp->attributes[0]->value;
  assert_string_equal(sp->attributes[0]->key, "rpc.request.header.x-tenant");
  assert_int_equal(x->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
  assert_int_equal(x->array_value->n_values, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(x->array_value->values[i]->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    assert_string_equal(x->array_value->values[i]->string_value, v[i]);
  }
  x = sp->attributes[1]->value;
  assert_int_equal(x->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
  assert_int_equal(x->array_value->n_values, 0);
  assert_string_equal(sp->attributes[2]->value->string_value, "p");
  free_request(req);
}

static void test_encode_root_span_has_no_parent_and_local_flags(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "root", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_span_end(&span, 0);
  rpct_span_data d;
  rpct_memory_exporter_get(T.memory, 0, &d);
  const rpct_span_data *list[] = {&d};
  pb_request *req = encode_decode(list, 1);
  pb_span *s = req->resource_spans[0]->scope_spans[0]->spans[0];
  assert_int_equal(s->parent_span_id.len, 0);
  assert_int_equal(s->flags, 0x100 | RPCT_TRACE_FLAG_SAMPLED | RPCT_TRACE_FLAG_RANDOM);
  assert_string_equal(s->trace_state, "");
  assert_int_equal(s->status->code, 0);
  assert_int_equal(s->n_events, 0);
  free_request(req);
}

static void test_encode_groups_by_resource_then_scope_in_order(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++) {
    rpct_span span;
    char name[8];
    snprintf(name, sizeof name, "s%d", i);
    rpct_span_start(&span, T.tracer, name, RPCT_SPAN_KIND_INTERNAL, NULL);
    rpct_span_end(&span, 0);
  }
  rpct_span_data d[4];
  for (int i = 0; i < 4; i++) rpct_memory_exporter_get(T.memory, (size_t)i, &d[i]);
  rpct_resource *other;
  rpct_resource_new(&other, NULL);
  rpct_resource_set(other, "service.name", "other");
  rpct_resource_set(other, "host.name", "h1");
  d[1].resource = other;      /* s0: A/rpctrace  s1: B/rpctrace */
  d[2].scope_name = "mylib";  /* s2: A/mylib     s3: A/rpctrace */
  d[2].scope_version = "";
  const rpct_span_data *list[] = {&d[0], &d[1], &d[2], &d[3]};
  pb_request *req = encode_decode(list, 4);
  assert_int_equal(req->n_resource_spans, 2);
  Opentelemetry__Proto__Trace__V1__ResourceSpans *a = req->resource_spans[0], *b = req->resource_spans[1];
  assert_string_equal(a->resource->attributes[0]->value->string_value, "unit-test");
  assert_int_equal(b->resource->n_attributes, 2);
  assert_string_equal(b->resource->attributes[1]->key, "host.name");
  assert_int_equal(a->n_scope_spans, 2);
  assert_string_equal(a->scope_spans[0]->scope->name, "rpctrace");
  assert_int_equal(a->scope_spans[0]->n_spans, 2);
  assert_string_equal(a->scope_spans[0]->spans[0]->name, "s0");
  assert_string_equal(a->scope_spans[0]->spans[1]->name, "s3");
  assert_string_equal(a->scope_spans[1]->scope->name, "mylib");
  assert_string_equal(a->scope_spans[1]->spans[0]->name, "s2");
  assert_int_equal(b->n_scope_spans, 1);
  assert_int_equal(b->scope_spans[0]->n_spans, 1);
  assert_string_equal(b->scope_spans[0]->spans[0]->name, "s1");
  free_request(req);
  rpct_resource_del(other);
}

static void test_encode_empty_batch_is_an_empty_request(void **state) {
  (void)state;
  uint8_t *buf;
  size_t len = 99;
  assert_int_equal(rpct__otlp_encode(NULL, 0, NULL, &buf, &len), RPCT_OK);
  assert_int_equal(len, 0);
  free(buf);
  assert_int_equal(rpct__otlp_encode(NULL, 1, NULL, &buf, &len), RPCT_ERR_INVALID_ARGUMENT);
}

static void test_encode_survives_allocation_failure(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "x", RPCT_SPAN_KIND_INTERNAL, NULL);
  rpct_span_set_int(&span, "k", 1);
  rpct_span_end(&span, 0);
  rpct_span_data d;
  rpct_memory_exporter_get(T.memory, 0, &d);
  const rpct_span_data *list[] = {&d};
  for (long k = 0;; k++) {
    tu_alloc_state st = {.fail_at = k};
    rpct_allocator a = tu_allocator(&st);
    uint8_t *buf = (uint8_t *)&k;
    size_t len;
    int rc = rpct__otlp_encode(list, 1, &a, &buf, &len);
    if (rc == RPCT_OK) {
      rpct__free(&a, buf);
      assert_int_equal(st.live, 0);
      assert_true(k >= 1);
      break;
    }
    assert_int_equal(rc, RPCT_ERR_NO_MEMORY);
    assert_ptr_equal(buf, (uint8_t *)&k);
    assert_int_equal(st.live, 0);
  }
}

/* ---- strings that are not UTF-8 ---- */

/* Ill-formed input and what a conforming decoder must read instead: one
 * U+FFFD per maximal subpart (Unicode §3.9, WHATWG). */
#define FFFD "\xEF\xBF\xBD"
static const struct {
  const char *in, *want;
} UTF8_CASES[] = {
    {"\xFF", FFFD}, /* never a UTF-8 byte */
    {"a\xFE\x62", "a" FFFD "b"},
    {"\xC0\xAF", FFFD FFFD},                       /* overlong '/', 2 bytes: C0 never starts one */
    {"\xE0\x80\xAF", FFFD FFFD FFFD},              /* overlong '/', 3 bytes */
    {"\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD},     /* overlong '/', 4 bytes */
    {"\xED\xA0\x80", FFFD FFFD FFFD},              /* surrogate U+D800 */
    {"\xED\xBF\xBFz", FFFD FFFD FFFD "z"},         /* surrogate U+DFFF */
    {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD},     /* above U+10FFFF */
    {"x\xE2\x82", "x" FFFD},                       /* truncated at the end: one subpart */
    {"\xF0\x9F\x98!", FFFD "!"},                   /* truncated before ASCII */
    {"\xE2\x82\xE2\x82\xAC", FFFD "\xE2\x82\xAC"}, /* truncated, then a whole euro sign */
    {"\x80\xBF", FFFD FFFD},                       /* continuation bytes alone */
    {"/pkg.Svc/M\xC3", "/pkg.Svc/M" FFFD},         /* a method cut inside a character */
    {"ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
};

/* Append `s` to the record's string space (a hand-made field). */
static rpct_str put(rpct_span_data *d, const char *s) {
  size_t n = strlen(s);
  assert_true(d->strings_used + n + 1 <= sizeof d->strings);
  rpct_str r = {.off = d->strings_used, .len = (uint16_t)n};
  memcpy(d->strings + d->strings_used, s, n + 1);
  d->strings_used = (uint16_t)(d->strings_used + n + 1);
  return r;
}

static size_t utf8_case; /* which UTF8_CASES entry is being checked */

static void assert_text(const char *got, const char *want) {
  assert_non_null(got);
  if (strlen(got) != strlen(want) || memcmp(got, want, strlen(want)) != 0)
    print_error("UTF8_CASES[%zu]: the decoded string differs\n", utf8_case);
  assert_int_equal(strlen(got), strlen(want));
  assert_memory_equal(got, want, strlen(want));
}

/* One record whose every string field holds `in`, through each place the
 * encoder writes a string. */
static void test_encode_repairs_ill_formed_utf8_in_every_string(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof UTF8_CASES / sizeof UTF8_CASES[0]; c++) {
    const char *in = UTF8_CASES[c].in, *want = UTF8_CASES[c].want;
    utf8_case = c;
    rpct_memory_exporter_clear(T.memory);
    rpct_span span;
    rpct_span_start_ex(
        &span, T.tracer,
        &(rpct_span_start_args){.name = in, .name_len = RPCT_NTS, .kind = RPCT_SPAN_KIND_SERVER});
    rpct_span_set_str(&span, in, in);
    const char *arr[] = {"fine", in};
    rpct_span_set_str_array(&span, "rpc.request.header.x-user", arr, NULL, 2);
    rpct_attribute ea = RPCT_ATTR_STR("e", in);
    rpct_span_add_event(&span, in, 0, &ea, 1);
    rpct_span_set_status(&span, RPCT_STATUS_ERROR, in);
    rpct_span_end(&span, 0);
    static rpct_span_data d;
    assert_int_equal(rpct_memory_exporter_get(T.memory, 0, &d), RPCT_OK);
    /* Fields the API validates, written by hand as a record may hold them. */
    d.tracestate = put(&d, in);
    d.n_links = 1;
    memset(&d.links[0], 0, sizeof d.links[0]);
    d.links[0].trace_id.bytes[0] = 1;
    d.links[0].span_id.bytes[0] = 1;
    d.links[0].tracestate = put(&d, in);
    d.scope_name = in;
    d.scope_version = in;
    rpct_resource *res;
    assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
    assert_int_equal(rpct_resource_set(res, in, in), RPCT_OK);
    d.resource = res;

    const rpct_span_data *one = &d;
    pb_request *req = encode_decode(&one, 1);
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[0];
    assert_int_equal(rs->resource->n_attributes, 1);
    assert_text(rs->resource->attributes[0]->key, want);
    assert_text(rs->resource->attributes[0]->value->string_value, want);
    assert_text(rs->scope_spans[0]->scope->name, want);
    assert_text(rs->scope_spans[0]->scope->version, want);
    const pb_span *sp = rs->scope_spans[0]->spans[0];
    assert_text(sp->name, want);
    assert_text(sp->trace_state, want);
    assert_text(sp->status->message, want);
    assert_int_equal(sp->n_attributes, 2);
    assert_text(sp->attributes[0]->key, want);
    assert_text(sp->attributes[0]->value->string_value, want);
    const pb_array *av = sp->attributes[1]->value->array_value;
    assert_int_equal(av->n_values, 2);
    assert_text(av->values[0]->string_value, "fine");
    assert_text(av->values[1]->string_value, want);
    assert_int_equal(sp->n_events, 1);
    assert_text(sp->events[0]->name, want);
    assert_text(sp->events[0]->attributes[0]->value->string_value, want);
    assert_int_equal(sp->n_links, 1);
    assert_text(sp->links[0]->trace_state, want);
    free_request(req);
    rpct_resource_del(res);
  }
}

/* Only the strings that need it are repaired; their neighbours, in the same
 * batch, are sent as they are. */
static void test_encode_repairs_one_string_and_leaves_the_others(void **state) {
  (void)state;
  rpct_span span[2];
  rpct_span_start(&span[0], T.tracer, "test.Echo/\xFF", RPCT_SPAN_KIND_SERVER, NULL);
  rpct_span_set_str(&span[0], "server.address", "h\xC3\xA9");
  rpct_span_end(&span[0], 0);
  rpct_span_start(&span[1], T.tracer, "test.Echo/Unary", RPCT_SPAN_KIND_SERVER, NULL);
  rpct_span_set_str(&span[1], "server.address", "h\xFF");
  rpct_span_end(&span[1], 0);
  static rpct_span_data d[2];
  for (size_t i = 0; i < 2; i++)
    assert_int_equal(rpct_memory_exporter_get(T.memory, i, &d[i]), RPCT_OK);
  const rpct_span_data *list[] = {&d[0], &d[1]};
  pb_request *req = encode_decode(list, 2);
  const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
  assert_text(ss->spans[0]->name, "test.Echo/" FFFD);
  assert_text(ss->spans[0]->attributes[0]->value->string_value, "h\xC3\xA9");
  assert_text(ss->spans[1]->name, "test.Echo/Unary");
  assert_text(ss->spans[1]->attributes[0]->value->string_value, "h" FFFD);
  free_request(req);
}

/* The encoder's single block: its size tells what the strings cost. */
typedef struct first_size {
  size_t size;
  int calls;
} first_size;

static void *record_then_fail(void *data, size_t size) {
  first_size *f = data;
  if (f->calls++ == 0) f->size = size;
  return NULL;
}

static void no_free(void *data, void *p) {
  (void)data;
  (void)p;
}

static size_t block_size_for_name(const char *name) {
  rpct_memory_exporter_clear(T.memory);
  rpct_span span;
  rpct_span_start(&span, T.tracer, name, RPCT_SPAN_KIND_INTERNAL, NULL);
  rpct_span_end(&span, 0);
  static rpct_span_data d;
  assert_int_equal(rpct_memory_exporter_get(T.memory, 0, &d), RPCT_OK);
  const rpct_span_data *one = &d;
  first_size f = {0, 0};
  rpct_allocator a = {.alloc = record_then_fail, .free = no_free, .data = &f};
  uint8_t *buf;
  size_t len;
  assert_int_equal(rpct__otlp_encode(&one, 1, &a, &buf, &len), RPCT_ERR_NO_MEMORY);
  assert_int_equal(f.calls, 1);
  return f.size;
}

static void test_encode_copies_no_valid_string(void **state) {
  (void)state;
  static char longer[1001], bad[1001];
  memset(longer, 'a', 1000);
  for (size_t i = 0; i < 1000; i += 2) memcpy(longer + i, "\xC3\xA9", 2); /* 500 x 'é' */
  memset(bad, 0xFF, 1000);
  size_t short_valid = block_size_for_name("x");
  /* A longer valid name costs nothing more: the message points at it. */
  assert_int_equal(block_size_for_name(longer), short_valid);
  /* An invalid one costs its repaired copy (1000 x U+FFFD and a NUL),
   * rounded up to the block's alignment. */
  size_t repaired = 3 * 1000 + 1, align = _Alignof(max_align_t);
  assert_int_equal(block_size_for_name(bad), short_valid + (repaired + align - 1) / align * align);
}

int main(void) {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T_(test_encode_writes_every_span_field),
      T_(test_encode_root_span_has_no_parent_and_local_flags),
      T_(test_encode_string_arrays_as_array_values),
      T_(test_encode_groups_by_resource_then_scope_in_order),
      T_(test_encode_empty_batch_is_an_empty_request),
      T_(test_encode_survives_allocation_failure),
      T_(test_encode_repairs_ill_formed_utf8_in_every_string),
      T_(test_encode_repairs_one_string_and_leaves_the_others),
      T_(test_encode_copies_no_valid_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
