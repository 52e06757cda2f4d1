/* The streaming OTLP protobuf -> JSON converter of `rpctrace collect`
 * (tools/otlp_wire_json.c): the bytes of the protobuf-c reference
 * (otlp_pb_json.c) for the request with every field and for random
 * canonical requests, however often it flushes; random damage refused
 * wherever protobuf-c refuses it; protobuf's merge rules for fields given
 * twice; long strings and bytes written in pieces exactly as whole; what
 * the check refuses; spans counted; the sink's buffer never growing past
 * its bound; a failing flush stopping the conversion. */
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
#include "json.h"
#include "otlp_pb_json.h"
#include "otlp_wire_json.h"

/* ---- helpers ---- */

/* What a sink handed on, and how. */
typedef struct collected {
  char *buf;
  size_t len, cap;
  size_t flushes;
  size_t largest; /* the largest flush */
  size_t fail_at; /* refuse the fail_at-th flush (0: never) */
} collected;

static void append(collected *c, const char *data, size_t len) {
  if (c->len + len + 1 > c->cap) {
    c->cap = (c->len + len + 1) * 2;
    c->buf = realloc(c->buf, c->cap);
    assert_non_null(c->buf);
  }
  memcpy(c->buf + c->len, data, len);
  c->len += len;
  c->buf[c->len] = '\0';
}

static bool collect_flush(void *ctx, const char *data, size_t len) {
  collected *c = ctx;
  c->flushes++;
  if (c->fail_at && c->flushes == c->fail_at) return false;
  if (len > c->largest) c->largest = len;
  append(c, data, len);
  return true;
}

/* The line for data[0..len) (which the check must accept), flushed at
 * `flush_at`: a malloc'd NUL-terminated string. */
static char *wire_json(const uint8_t *data, size_t len, size_t flush_at) {
  collected c;
  memset(&c, 0, sizeof c);
  append(&c, "", 0);
  rtt_json_sink s;
  rtt_json_sink_init(&s, flush_at, collect_flush, &c);
  assert_true(rtt_otlp_wire_to_json(&s, data, len));
  append(&c, s.buf.buf ? s.buf.buf : "", s.buf.len);
  rtt_json_sink_release(&s);
  return c.buf;
}

/* The line the reference writes for data[0..len): NULL when protobuf-c
 * refuses it. */
static char *reference_json(const uint8_t *data, size_t len) {
  rtt_pb_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                       data);
  if (!req) return NULL;
  rpct__json_buf b;
  rpct__json_init(&b, NULL, 0);
  rtt_otlp_request_to_json(&b, req);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
  assert_false(b.oom);
  char *s = malloc(b.len + 1);
  assert_non_null(s);
  memcpy(s, b.buf, b.len);
  s[b.len] = '\0';
  rpct__json_release(&b);
  return s;
}

static uint8_t *pack(const rtt_pb_request *req, size_t *len) {
  *len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
      req);
  uint8_t *wire = malloc(*len ? *len : 1);
  assert_non_null(wire);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, wire);
  return wire;
}

/* Both converters agree on data[0..len), flushed at each size. */
static void assert_same_as_reference(const uint8_t *data, size_t len) {
  static const size_t flush_sizes[] = {0, 1, 97, 65536};
  char *want = reference_json(data, len);
  assert_non_null(want);
  assert_int_equal(rtt_otlp_wire_check(data, len, NULL), RTT_OTLP_WIRE_OK);
  for (size_t i = 0; i < sizeof flush_sizes / sizeof flush_sizes[0]; i++) {
    char *got = wire_json(data, len, flush_sizes[i]);
    assert_string_equal(got, want);
    free(got);
  }
  free(want);
}

/* ---- building wire bytes by hand ---- */

typedef struct msg {
  uint8_t *p;
  size_t len, cap;
} msg;

static void m_bytes(msg *m, const void *data, size_t n) {
  if (m->len + n > m->cap) {
    m->cap = (m->len + n) * 2 + 16;
    m->p = realloc(m->p, m->cap);
    assert_non_null(m->p);
  }
  if (n) memcpy(m->p + m->len, data, n);
  m->len += n;
}

static void m_varint(msg *m, uint64_t v) {
  do {
    uint8_t byte = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    m_bytes(m, &byte, 1);
    v >>= 7;
  } while (v);
}

static void m_tag(msg *m, uint32_t field, unsigned wire) {
  m_varint(m, (uint64_t)field << 3 | wire);
}

/* Field `field` holding `sub` (freed). */
static void m_sub(msg *m, uint32_t field, msg *sub) {
  m_tag(m, field, 2);
  m_varint(m, sub->len);
  m_bytes(m, sub->p, sub->len);
  free(sub->p);
  memset(sub, 0, sizeof *sub);
}

static void m_str(msg *m, uint32_t field, const char *s, size_t n) {
  m_tag(m, field, 2);
  m_varint(m, n);
  m_bytes(m, s, n);
}

static void m_uint(msg *m, uint32_t field, uint64_t v) {
  m_tag(m, field, 0);
  m_varint(m, v);
}

/* A request of one ResourceSpans of one ScopeSpans holding `span`
 * (freed). */
static msg request_of_span(msg *span) {
  msg ss = {0}, rs = {0}, req = {0};
  m_sub(&ss, 2, span);
  m_sub(&rs, 2, &ss);
  m_sub(&req, 1, &rs);
  return req;
}

/* The line for a request of one span, given the span's JSON. */
static char *line_of_span(const char *span_json) {
  static const char head[] = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[";
  static const char tail[] = "]}]}]}";
  size_t n = strlen(head) + strlen(span_json) + strlen(tail) + 1;
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, "%s%s%s", head, span_json, tail);
  return s;
}

#define EMPTY_SPAN_FIELDS                                                  \
  "\"traceId\":\"\",\"spanId\":\"\",\"flags\":0,\"name\":\"\",\"kind\":0," \
  "\"startTimeUnixNano\":\"0\",\"endTimeUnixNano\":\"0\""

/* ---- the reference's bytes ---- */

static void test_full_request_is_written_as_the_reference_writes_it(void **state) {
  (void)state;
  full *f = malloc(sizeof *f);
  assert_non_null(f);
  build_full(f);
  size_t len;
  uint8_t *wire = pack(&f->req, &len);
  size_t spans = 0;
  assert_int_equal(rtt_otlp_wire_check(wire, len, &spans), RTT_OTLP_WIRE_OK);
  assert_int_equal(spans, 1);
  char *json = wire_json(wire, len, 0);
  assert_string_equal(json, full_json);
  free(json);
  assert_same_as_reference(wire, len);
  free(wire);
  free(f);
}

static void test_empty_requests(void **state) {
  (void)state;
  size_t spans = 99;
  assert_int_equal(rtt_otlp_wire_check(NULL, 0, &spans), RTT_OTLP_WIRE_OK);
  assert_int_equal(spans, 0);
  char *json = wire_json(NULL, 0, 0);
  assert_string_equal(json, "{\"resourceSpans\":[]}");
  free(json);
  /* A span with nothing set, in an empty ResourceSpans and ScopeSpans. */
  static const uint8_t bare[] = {0x0a, 0x04, 0x12, 0x02, 0x12, 0x00};
  json = wire_json(bare, sizeof bare, 0);
  char *want = line_of_span("{" EMPTY_SPAN_FIELDS "}");
  assert_string_equal(json, want);
  free(want);
  free(json);
  assert_same_as_reference(bare, sizeof bare);
}

/* ---- random canonical requests ---- */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t next(rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}

static size_t below(rng *r, size_t n) { return (size_t)(next(r) % n); }

/* Every allocation of one generated request, freed together. */
typedef struct arena {
  void **p;
  size_t n, cap;
} arena;

static void *arena_new(arena *a, size_t size) {
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 64;
    a->p = realloc(a->p, a->cap * sizeof *a->p);
    assert_non_null(a->p);
  }
  void *p = calloc(1, size ? size : 1);
  assert_non_null(p);
  a->p[a->n++] = p;
  return p;
}

static void arena_free(arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->p[i]);
  free(a->p);
  memset(a, 0, sizeof *a);
}

/* Text that exercises the JSON string writer: quotes, escapes, control
 * characters, UTF-8 of every length, ill-formed sequences; no NUL (a
 * protobuf-c string ends there). Rarely longer than a piece. */
static char *gen_string(arena *a, rng *r) {
  static const char *const atoms[] = {"a",
                                      "Z",
                                      "9",
                                      " ",
                                      "\"",
                                      "\\",
                                      "/",
                                      "\n",
                                      "\t",
                                      "\x01",
                                      "\x1f",
                                      "\x7f",
                                      "\xC3\xA9",
                                      "\xE2\x82\xAC",
                                      "\xF0\x9F\x98\x80",
                                      "\xFF",
                                      "\xC0\xAF",
                                      "\x80",
                                      "\xE2\x82",
                                      "\xED\xA0\x80",
                                      "\xF4\x90\x80\x80"};
  size_t kind = below(r, 100);
  size_t atoms_n = kind < 30 ? 0 : kind < 99 ? 1 + below(r, 12) : 2100 + below(r, 2000);
  char *s = arena_new(a, atoms_n * 4 + 1);
  size_t len = 0;
  for (size_t i = 0; i < atoms_n; i++) {
    const char *atom = atoms[below(r, sizeof atoms / sizeof atoms[0])];
    memcpy(s + len, atom, strlen(atom));
    len += strlen(atom);
  }
  s[len] = '\0';
  return s;
}

static ProtobufCBinaryData gen_bytes(arena *a, rng *r) {
  size_t kind = below(r, 100);
  size_t n = kind < 20 ? 0 : kind < 99 ? 1 + below(r, 20) : 8000 + below(r, 8000);
  uint8_t *p = arena_new(a, n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)next(r);
  return (ProtobufCBinaryData){n, n ? p : NULL};
}

static pb_kv **gen_kvs(arena *a, rng *r, size_t n, unsigned depth);

static pb_any *gen_any(arena *a, rng *r, unsigned depth) {
  pb_any *v = arena_new(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  size_t kind = below(r, depth < 3 ? 8 : 5);
  switch (kind) {
    case 1:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
      v->string_value = gen_string(a, r);
      break;
    case 2:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
      v->bool_value = below(r, 2);
      break;
    case 3:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
      v->int_value = below(r, 4) ? (int64_t)below(r, 1000) - 500 : (int64_t)next(r);
      break;
    case 4: {
      static const double specials[] = {0.0, -0.0, 0.1, -2.5e300, 5e-324, 1.0 / 3.0};
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
      size_t k = below(r, 9);
      v->double_value = k < 6 ? specials[k] : k == 6 ? NAN : k == 7 ? INFINITY : -INFINITY;
      break;
    }
    case 5: {
      pb_array *arr = arena_new(a, sizeof *arr);
      opentelemetry__proto__common__v1__array_value__init(arr);
      arr->n_values = below(r, 4);
      arr->values = arena_new(a, arr->n_values * sizeof *arr->values);
      for (size_t i = 0; i < arr->n_values; i++) arr->values[i] = gen_any(a, r, depth + 1);
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
      v->array_value = arr;
      break;
    }
    case 6: {
      pb_kvlist *l = arena_new(a, sizeof *l);
      opentelemetry__proto__common__v1__key_value_list__init(l);
      l->n_values = below(r, 4);
      l->values = gen_kvs(a, r, l->n_values, depth + 1);
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
      v->kvlist_value = l;
      break;
    }
    case 7:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
      v->bytes_value = gen_bytes(a, r);
      break;
    default: break; /* not set */
  }
  return v;
}

static pb_kv **gen_kvs(arena *a, rng *r, size_t n, unsigned depth) {
  pb_kv **kvs = arena_new(a, n * sizeof *kvs);
  for (size_t i = 0; i < n; i++) {
    kvs[i] = arena_new(a, sizeof *kvs[i]);
    opentelemetry__proto__common__v1__key_value__init(kvs[i]);
    kvs[i]->key = gen_string(a, r);
    kvs[i]->value = below(r, 8) ? gen_any(a, r, depth) : NULL;
  }
  return kvs;
}

static uint32_t gen_u32(rng *r) {
  size_t k = below(r, 4);
  return k == 0 ? 0 : k == 1 ? (uint32_t)below(r, 10) : (uint32_t)next(r);
}

static pb_span *gen_span(arena *a, rng *r) {
  pb_span *s = arena_new(a, sizeof *s);
  opentelemetry__proto__trace__v1__span__init(s);
  s->trace_id = gen_bytes(a, r);
  s->span_id = gen_bytes(a, r);
  s->parent_span_id = gen_bytes(a, r);
  s->trace_state = gen_string(a, r);
  s->name = gen_string(a, r);
  s->flags = gen_u32(r);
  /* Any int32 the wire can carry, negative ones included. */
  s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)(int32_t)gen_u32(r);
  s->start_time_unix_nano = below(r, 3) ? next(r) : 0;
  s->end_time_unix_nano = below(r, 3) ? next(r) : 0;
  s->n_attributes = below(r, 4);
  s->attributes = gen_kvs(a, r, s->n_attributes, 0);
  s->dropped_attributes_count = gen_u32(r);
  s->n_events = below(r, 3);
  s->events = arena_new(a, s->n_events * sizeof *s->events);
  for (size_t i = 0; i < s->n_events; i++) {
    pb_event *ev = s->events[i] = arena_new(a, sizeof *ev);
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->time_unix_nano = below(r, 2) ? next(r) : 0;
    ev->name = gen_string(a, r);
    ev->n_attributes = below(r, 3);
    ev->attributes = gen_kvs(a, r, ev->n_attributes, 0);
    ev->dropped_attributes_count = gen_u32(r);
  }
  s->dropped_events_count = gen_u32(r);
  s->n_links = below(r, 3);
  s->links = arena_new(a, s->n_links * sizeof *s->links);
  for (size_t i = 0; i < s->n_links; i++) {
    pb_link *l = s->links[i] = arena_new(a, sizeof *l);
    opentelemetry__proto__trace__v1__span__link__init(l);
    l->trace_id = gen_bytes(a, r);
    l->span_id = gen_bytes(a, r);
    l->trace_state = gen_string(a, r);
    l->n_attributes = below(r, 3);
    l->attributes = gen_kvs(a, r, l->n_attributes, 0);
    l->dropped_attributes_count = gen_u32(r);
    l->flags = gen_u32(r);
  }
  s->dropped_links_count = gen_u32(r);
  if (below(r, 2)) {
    pb_status *st = arena_new(a, sizeof *st);
    opentelemetry__proto__trace__v1__status__init(st);
    st->message = gen_string(a, r);
    st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)(int32_t)gen_u32(r);
    s->status = st;
  }
  return s;
}

/* A random request; *spans is how many spans it holds. */
static rtt_pb_request *gen_request(arena *a, rng *r, size_t *spans) {
  rtt_pb_request *req = arena_new(a, sizeof *req);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
  *spans = 0;
  req->n_resource_spans = below(r, 4);
  req->resource_spans = arena_new(a, req->n_resource_spans * sizeof *req->resource_spans);
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    pb_resource_spans *rs = req->resource_spans[i] = arena_new(a, sizeof *rs);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    if (below(r, 2)) {
      pb_resource *res = arena_new(a, sizeof *res);
      opentelemetry__proto__resource__v1__resource__init(res);
      res->n_attributes = below(r, 4);
      res->attributes = gen_kvs(a, r, res->n_attributes, 0);
      res->dropped_attributes_count = gen_u32(r);
      rs->resource = res;
    }
    rs->schema_url = gen_string(a, r);
    rs->n_scope_spans = below(r, 4);
    rs->scope_spans = arena_new(a, rs->n_scope_spans * sizeof *rs->scope_spans);
    for (size_t j = 0; j < rs->n_scope_spans; j++) {
      pb_scope_spans *ss = rs->scope_spans[j] = arena_new(a, sizeof *ss);
      opentelemetry__proto__trace__v1__scope_spans__init(ss);
      if (below(r, 2)) {
        pb_scope *sc = arena_new(a, sizeof *sc);
        opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
        sc->name = gen_string(a, r);
        sc->version = gen_string(a, r);
        sc->n_attributes = below(r, 3);
        sc->attributes = gen_kvs(a, r, sc->n_attributes, 0);
        sc->dropped_attributes_count = gen_u32(r);
        ss->scope = sc;
      }
      ss->schema_url = gen_string(a, r);
      ss->n_spans = below(r, 4);
      ss->spans = arena_new(a, ss->n_spans * sizeof *ss->spans);
      for (size_t k = 0; k < ss->n_spans; k++) ss->spans[k] = gen_span(a, r);
      *spans += ss->n_spans;
    }
  }
  return req;
}

static void test_random_requests_are_written_as_the_reference_writes_them(void **state) {
  (void)state;
  rng r = {0x9E3779B97F4A7C15u};
  for (int i = 0; i < 200; i++) {
    arena a = {0};
    size_t want_spans, spans = 0, len;
    rtt_pb_request *req = gen_request(&a, &r, &want_spans);
    uint8_t *wire = pack(req, &len);
    assert_int_equal(rtt_otlp_wire_check(wire, len, &spans), RTT_OTLP_WIRE_OK);
    assert_int_equal(spans, want_spans);
    assert_same_as_reference(wire, len);
    free(wire);
    arena_free(&a);
  }
}

static size_t json_span_count(const rtt_json *root) {
  size_t n = 0;
  const rtt_json *rs = rtt_json_get(root, "resourceSpans");
  for (size_t i = 0; i < rtt_json_array_len(rs); i++) {
    const rtt_json *ss = rtt_json_get(rtt_json_at(rs, i), "scopeSpans");
    for (size_t k = 0; k < rtt_json_array_len(ss); k++)
      n += rtt_json_array_len(rtt_json_get(rtt_json_at(ss, k), "spans"));
  }
  return n;
}

/* Damaged requests: whatever protobuf-c refuses the check refuses; what
 * the check accepts is written as strict JSON holding the spans it
 * counted, and, when the damage left it canonical (protobuf-c packs back
 * the same bytes), as the reference writes it. */
static void test_damaged_requests_are_refused_as_protobuf_c_refuses_them(void **state) {
  (void)state;
  rng r = {0x2545F4914F6CDD1Du};
  size_t accepted = 0, refused = 0, compared = 0;
  for (int i = 0; i < 100; i++) {
    arena a = {0};
    size_t spans, len;
    rtt_pb_request *req = gen_request(&a, &r, &spans);
    uint8_t *wire = pack(req, &len);
    arena_free(&a);
    if (len == 0) {
      free(wire);
      continue;
    }
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    for (int j = 0; j < 30; j++) {
      memcpy(bad, wire, len);
      size_t bad_len = below(&r, 8) ? len : below(&r, len);
      for (size_t k = 0, n = 1 + below(&r, 3); k < n && bad_len; k++)
        bad[below(&r, bad_len)] = (uint8_t)next(&r);
      size_t got_spans = 0;
      rtt_otlp_wire_status st = rtt_otlp_wire_check(bad, bad_len, &got_spans);
      rtt_pb_request *back =
          opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
              NULL, bad_len, bad);
      if (!back) assert_int_not_equal(st, RTT_OTLP_WIRE_OK);
      if (st != RTT_OTLP_WIRE_OK) {
        refused++;
      } else {
        accepted++;
        char *json = wire_json(bad, bad_len, below(&r, 2) ? 0 : 1 + below(&r, 300));
        rtt_json_doc *doc = NULL;
        rtt_json_error err;
        assert_int_equal(rtt_json_parse(json, strlen(json), 4 * RTT_OTLP_MAX_DEPTH, &doc, &err),
                         RTT_JSON_OK);
        assert_int_equal(json_span_count(rtt_json_root(doc)), got_spans);
        rtt_json_doc_free(doc);
        size_t back_len;
        uint8_t *again = back ? pack(back, &back_len) : NULL;
        if (again && back_len == bad_len && memcmp(again, bad, bad_len) == 0) {
          char *want = reference_json(bad, bad_len);
          assert_string_equal(json, want);
          free(want);
          compared++;
        }
        free(again);
        free(json);
      }
      if (back)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
            back, NULL);
    }
    free(bad);
    free(wire);
  }
  /* The damage must have produced both outcomes, and canonical survivors. */
  assert_true(accepted > 100);
  assert_true(refused > 100);
  assert_true(compared > 20);
}

/* ---- protobuf's rules for fields given twice ---- */

static void test_fields_given_twice_follow_protobuf(void **state) {
  (void)state;
  msg span = {0}, st = {0}, kv = {0}, any = {0}, arr = {0}, item = {0};
  m_str(&span, 5, "first", 5);
  m_str(&span, 5, "second", 6); /* the last string wins */
  m_uint(&span, 6, 1);
  m_uint(&span, 6, 3); /* and the last scalar */
  m_uint(&st, 3, 2);
  m_sub(&span, 15, &st);
  m_str(&st, 2, "x", 1);
  m_sub(&span, 15, &st); /* two statuses merge: code 2 and message x */
  m_uint(&span, 17, 5);  /* unknown fields are skipped */
  m_tag(&span, 100, 5);
  m_bytes(&span, "\1\2\3\4", 4);

  /* attribute "merged": its value given twice, arrays [1] then [2], which
   * merge into [1, 2] */
  m_str(&kv, 1, "merged", 6);
  for (uint64_t i = 1; i <= 2; i++) {
    m_uint(&item, 3, i);
    m_sub(&arr, 1, &item);
    m_sub(&any, 5, &arr);
    m_sub(&kv, 2, &any);
  }
  m_sub(&span, 9, &kv);
  /* attribute "switched": array [1], then a string, then array [2]: the
   * oneof's last member wins alone */
  m_str(&kv, 1, "switched", 8);
  m_uint(&item, 3, 1);
  m_sub(&arr, 1, &item);
  m_sub(&any, 5, &arr);
  m_str(&any, 1, "s", 1);
  m_uint(&item, 3, 2);
  m_sub(&arr, 1, &item);
  m_sub(&any, 5, &arr);
  m_sub(&kv, 2, &any);
  m_sub(&span, 9, &kv);
  /* attribute "last": a string then an int */
  m_str(&kv, 1, "last", 4);
  m_str(&any, 1, "s", 1);
  m_uint(&any, 3, 7);
  m_sub(&kv, 2, &any);
  m_sub(&span, 9, &kv);
  /* Status has no field 1 any more (it was the deprecated code): skipped. */
  m_uint(&st, 1, 9);
  m_sub(&span, 15, &st);

  msg req = request_of_span(&span);
  size_t spans = 0;
  assert_int_equal(rtt_otlp_wire_check(req.p, req.len, &spans), RTT_OTLP_WIRE_OK);
  assert_int_equal(spans, 1);
  char *json = wire_json(req.p, req.len, 0);
  char *want = line_of_span(
      "{\"traceId\":\"\",\"spanId\":\"\",\"flags\":0,\"name\":\"second\",\"kind\":3,"
      "\"startTimeUnixNano\":\"0\",\"endTimeUnixNano\":\"0\",\"attributes\":["
      "{\"key\":\"merged\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},"
      "{\"intValue\":\"2\"}]}}},"
      "{\"key\":\"switched\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"2\"}]}}},"
      "{\"key\":\"last\",\"value\":{\"intValue\":\"7\"}}],"
      "\"status\":{\"message\":\"x\",\"code\":2}}");
  assert_string_equal(json, want);
  free(want);
  free(json);
  free(req.p);
}

/* Resources and scopes given twice merge too: their attributes join. */
static void test_resource_and_scope_given_twice_merge(void **state) {
  (void)state;
  msg rs = {0}, res = {0}, kv = {0}, ss = {0}, scope = {0}, req = {0};
  for (int i = 0; i < 2; i++) {
    m_str(&kv, 1, i ? "b" : "a", 1);
    m_sub(&res, 1, &kv);
    m_sub(&rs, 1, &res);
  }
  m_str(&scope, 1, "lib", 3);
  m_sub(&ss, 1, &scope);
  m_str(&scope, 2, "1.0", 3);
  m_sub(&ss, 1, &scope);
  m_sub(&rs, 2, &ss);
  m_sub(&req, 1, &rs);
  char *json = wire_json(req.p, req.len, 0);
  assert_string_equal(json,
                      "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                      "{\"key\":\"a\",\"value\":{}},{\"key\":\"b\",\"value\":{}}]},"
                      "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},"
                      "\"spans\":[]}]}]}");
  free(json);
  free(req.p);
}

/* ---- strings and bytes in pieces ---- */

/* The JSON string json_writer makes of s[0..n), NUL-terminated. */
static char *json_string(const char *s, size_t n) {
  rpct__json_buf b;
  rpct__json_init(&b, NULL, 0);
  rpct__json_str(&b, s, n);
  assert_false(b.oom);
  char *out = malloc(b.len + 1);
  assert_non_null(out);
  memcpy(out, b.buf, b.len);
  out[b.len] = '\0';
  rpct__json_release(&b);
  return out;
}

/* A span named s[0..n) is written with the name json_writer makes of it
 * whole. */
static void assert_name_written_whole(const char *s, size_t n) {
  msg span = {0};
  m_str(&span, 5, s, n);
  msg req = request_of_span(&span);
  char *name = json_string(s, n);
  size_t span_len = strlen(name) + 200;
  char *span_json = malloc(span_len);
  assert_non_null(span_json);
  snprintf(span_json, span_len,
           "{\"traceId\":\"\",\"spanId\":\"\",\"flags\":0,\"name\":%s,\"kind\":0,"
           "\"startTimeUnixNano\":\"0\",\"endTimeUnixNano\":\"0\"}",
           name);
  char *want = line_of_span(span_json);
  for (size_t flush_at = 0; flush_at <= 4096; flush_at += 4096) {
    char *got = wire_json(req.p, req.len, flush_at);
    assert_string_equal(got, want);
    free(got);
  }
  free(want);
  free(span_json);
  free(name);
  free(req.p);
}

/* The input of one piece of a long string (otlp_wire_json.c's STR_PIECE);
 * the tests hold with any other. */
#define PIECE 8192

static void test_long_strings_are_written_whole_whatever_the_cut(void **state) {
  (void)state;
  /* Sequences that a cut would change if it fell inside them, placed
   * across the first two piece boundaries at every offset. */
  static const struct {
    const char *bytes;
    size_t len;
  } straddlers[] = {
      {"\xC3\xA9", 2},         {"\xE2\x82\xAC", 3}, {"\xF0\x9F\x98\x80", 4}, {"\xE2\x82", 2},
      {"\xF0\x9F\x98", 3},     {"\xED\xA0\x80", 3}, {"\xC0\xAF", 2},         {"\x80\x80\x80", 3},
      {"\xF4\x90\x80\x80", 4}, {"\x01\"\\", 3},     {"\xFF\xFE", 2},
  };
  enum { N = 2 * PIECE + 64 };
  char *s = malloc(N);
  assert_non_null(s);
  for (size_t k = 0; k < sizeof straddlers / sizeof straddlers[0]; k++) {
    for (size_t off = PIECE - 5; off <= PIECE + 1; off++) {
      memset(s, 'a', N);
      memcpy(s + off, straddlers[k].bytes, straddlers[k].len);
      /* and again across the next cut, wherever the first one fell */
      memcpy(s + off + PIECE - 2, straddlers[k].bytes, straddlers[k].len);
      assert_name_written_whole(s, N);
    }
  }
  /* Whole strings of one kind: emoji at each alignment, continuation
   * bytes only, lead bytes only, control characters (six bytes each in
   * JSON), and NUL, which the wire carries and protobuf-c would cut. */
  for (size_t shift = 0; shift < 4; shift++) {
    for (size_t i = 0; i < N; i++) s[i] = "\xF0\x9F\x98\x80"[(i + shift) % 4];
    assert_name_written_whole(s, N);
  }
  memset(s, 0x80, N);
  assert_name_written_whole(s, N);
  memset(s, 0xE2, N);
  assert_name_written_whole(s, N);
  memset(s, 0x01, N);
  assert_name_written_whole(s, N);
  memset(s, 0, N);
  assert_name_written_whole(s, N);
  assert_name_written_whole("a\0b", 3);
  free(s);
}

static void test_long_ids_and_bytes_are_written_whole(void **state) {
  (void)state;
  /* Lengths around the hex piece (8192) and the base64 one (12288). */
  static const size_t lens[] = {8191, 8192, 8193, 12287, 12288, 12289, 12290, 40001};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    size_t n = lens[i];
    uint8_t *bytes = malloc(n);
    assert_non_null(bytes);
    for (size_t k = 0; k < n; k++) bytes[k] = (uint8_t)(k * 31 + 7);
    msg span = {0}, kv = {0}, any = {0};
    m_str(&span, 1, (const char *)bytes, n); /* traceId */
    m_str(&kv, 1, "b", 1);
    m_str(&any, 7, (const char *)bytes, n); /* bytesValue */
    m_sub(&kv, 2, &any);
    m_sub(&span, 9, &kv);
    msg req = request_of_span(&span);
    assert_same_as_reference(req.p, req.len);
    free(req.p);
    free(bytes);
  }
}

/* ---- the check ---- */

static void test_check_refuses_what_protobuf_c_refuses(void **state) {
  (void)state;
  static const struct {
    const char *what;
    uint8_t bytes[24];
    size_t len;
    rtt_otlp_wire_status want;
    bool protobuf_c_accepts;
  } cases[] = {
      {"a tag cut short", {0x8a}, 1, RTT_OTLP_WIRE_MALFORMED, false},
      {"field 0", {0x02, 0x00}, 2, RTT_OTLP_WIRE_MALFORMED, false},
      /* protobuf-c reads a field 0 whose tag takes two bytes */
      {"field 0 in two bytes", {0x80, 0x00, 0x01}, 3, RTT_OTLP_WIRE_MALFORMED, true},
      {"a tag of 6 bytes",
       {0xf8, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00},
       7,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      {"a group", {0x0b, 0x0c}, 2, RTT_OTLP_WIRE_MALFORMED, false},
      {"an unknown field in a group", {0xa3, 0x06, 0xa4, 0x06}, 4, RTT_OTLP_WIRE_MALFORMED, false},
      {"wire type 6", {0xa6, 0x06}, 2, RTT_OTLP_WIRE_MALFORMED, false},
      {"wire type 7", {0xa7, 0x06}, 2, RTT_OTLP_WIRE_MALFORMED, false},
      {"a varint of 11 bytes",
       {0xa0, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
       13,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      {"a length of 6 bytes",
       {0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
       7,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      {"a length past the end", {0x0a, 0x05, 0x00}, 3, RTT_OTLP_WIRE_MALFORMED, false},
      {"a length above INT_MAX",
       {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01},
       7,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      {"a fixed64 cut short", {0xa1, 0x06, 1, 2, 3}, 5, RTT_OTLP_WIRE_MALFORMED, false},
      {"a fixed32 cut short", {0xa5, 0x06, 1, 2, 3}, 5, RTT_OTLP_WIRE_MALFORMED, false},
      {"resource_spans as a varint", {0x08, 0x01}, 2, RTT_OTLP_WIRE_MALFORMED, false},
      /* request { resource_spans { scope_spans { spans { name: fixed32 } } } } */
      {"a span name as a fixed32",
       {0x0a, 0x0b, 0x12, 0x09, 0x12, 0x07, 0x2d, 1, 2, 3, 4, 0x30, 0x01},
       13,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      /* ... { spans { attributes { value { bool_value: fixed64 } } } } */
      {"a bool as a fixed64",
       {0x0a, 0x11, 0x12, 0x0f, 0x12, 0x0d, 0x4a, 0x0b, 0x12, 0x09, 0x11, 1, 0, 0, 0, 0, 0, 0, 0},
       19,
       RTT_OTLP_WIRE_MALFORMED,
       true},
      {"damage inside a span",
       {0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x0a, 0x05},
       8,
       RTT_OTLP_WIRE_MALFORMED,
       false},
      {"unknown fields of each wire type",
       {0xa0, 0x06, 0x01, 0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xa2, 0x06, 0x00},
       16,
       RTT_OTLP_WIRE_OK,
       true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t spans = 7;
    rtt_otlp_wire_status st = rtt_otlp_wire_check(cases[i].bytes, cases[i].len, &spans);
    if (st != cases[i].want)
      fail_msg("%s: status %d, expected %d", cases[i].what, st, cases[i].want);
    rtt_pb_request *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            NULL, cases[i].len, cases[i].bytes);
    if ((req != NULL) != cases[i].protobuf_c_accepts)
      fail_msg("%s: protobuf-c %s it", cases[i].what, req ? "accepts" : "refuses");
    if (req)
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                              NULL);
  }
}

/* A request whose one attribute value is `levels` arrays deep (built from
 * the inside out, as tests/tools/send_raw.c does). */
static msg deep_request(unsigned levels) {
  msg inner = {0}, outer = {0};
  m_bytes(&inner, "", 0); /* the innermost AnyValue is empty */
  for (unsigned i = 0; i < levels; i++) {
    m_sub(&outer, 1, &inner); /* ArrayValue.values */
    m_sub(&inner, 5, &outer); /* AnyValue.array_value */
  }
  m_sub(&outer, 2, &inner); /* KeyValue.value */
  m_sub(&inner, 9, &outer); /* Span.attributes */
  return request_of_span(&inner);
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_check_limits_the_depth_exactly(void **state) {
  (void)state;
  /* The request is level 1, the attribute's AnyValue level 6, and each
   * array adds two: 29 arrays put the innermost AnyValue at level 64. */
  msg req = deep_request(29);
  assert_int_equal(rtt_otlp_wire_check(req.p, req.len, NULL), RTT_OTLP_WIRE_OK);
  char *json = wire_json(req.p, req.len, 0);
  assert_int_equal(count(json, "arrayValue"), 29);
  free(json);
  assert_same_as_reference(req.p, req.len);
  free(req.p);
  req = deep_request(30);
  assert_int_equal(rtt_otlp_wire_check(req.p, req.len, NULL), RTT_OTLP_WIRE_TOO_DEEP);
  free(req.p);
  req = deep_request(1000);
  assert_int_equal(rtt_otlp_wire_check(req.p, req.len, NULL), RTT_OTLP_WIRE_TOO_DEEP);
  free(req.p);
}

static void test_check_counts_spans_in_every_scope(void **state) {
  (void)state;
  msg req = {0}, rs = {0}, ss = {0}, span = {0};
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 3; j++) {
      for (int k = 0; k <= j; k++) m_sub(&ss, 2, &span);
      m_sub(&rs, 2, &ss);
    }
    m_sub(&req, 1, &rs);
  }
  size_t spans = 0;
  assert_int_equal(rtt_otlp_wire_check(req.p, req.len, &spans), RTT_OTLP_WIRE_OK);
  assert_int_equal(spans, 12);
  char *json = wire_json(req.p, req.len, 0);
  assert_int_equal(count(json, "{\"traceId\""), 12);
  free(json);
  free(req.p);
}

/* ---- the sink ---- */

/* However much a request makes, the buffer is the one allocation of
 * flush_at + RTT_JSON_SINK_SLACK it started with, and each flush hands on
 * at most that. */
static void assert_bounded(const uint8_t *data, size_t len, size_t flush_at, size_t want_len) {
  collected c;
  memset(&c, 0, sizeof c);
  rtt_json_sink s;
  rtt_json_sink_init(&s, flush_at, collect_flush, &c);
  assert_true(rtt_otlp_wire_to_json(&s, data, len));
  assert_int_equal(s.buf.cap, flush_at + RTT_JSON_SINK_SLACK);
  assert_true(c.largest <= flush_at + RTT_JSON_SINK_SLACK);
  assert_true(s.buf.len < flush_at);
  assert_int_equal(c.len + s.buf.len, want_len);
  rtt_json_sink_release(&s);
  free(c.buf);
}

static void test_sink_buffer_never_grows(void **state) {
  (void)state;
  /* 50,000 empty spans: 100 kB on the wire, 5 MB of JSON. */
  enum { SPANS = 50000 };
  msg ss = {0}, rs = {0}, req = {0};
  for (int i = 0; i < SPANS; i++) m_bytes(&ss, "\x12\x00", 2);
  m_sub(&rs, 2, &ss);
  m_sub(&req, 1, &rs);
  size_t per_span = strlen("{" EMPTY_SPAN_FIELDS "}") + 1;
  size_t want =
      strlen("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[]}]}]}") + SPANS * per_span - 1;
  assert_bounded(req.p, req.len, 64 * 1024, want);
  free(req.p);

  /* A name of 256 KiB of control characters: 1.5 MiB of JSON from one
   * field. */
  enum { N = 1 << 18 };
  char *s = malloc(N);
  assert_non_null(s);
  memset(s, 0x01, N);
  msg span = {0};
  m_str(&span, 5, s, N);
  req = request_of_span(&span);
  char *empty_line = line_of_span("{" EMPTY_SPAN_FIELDS "}");
  want = strlen(empty_line) + (size_t)6 * N; /* "name":"" gets 6 bytes a character */
  free(empty_line);
  assert_bounded(req.p, req.len, 64 * 1024, want);
  free(req.p);
  free(s);
}

static void test_failed_flush_stops_the_conversion(void **state) {
  (void)state;
  msg ss = {0}, rs = {0}, req = {0};
  for (int i = 0; i < 10000; i++) m_bytes(&ss, "\x12\x00", 2);
  m_sub(&rs, 2, &ss);
  m_sub(&req, 1, &rs);
  collected c;
  memset(&c, 0, sizeof c);
  c.fail_at = 3;
  rtt_json_sink s;
  rtt_json_sink_init(&s, 4096, collect_flush, &c);
  assert_false(rtt_otlp_wire_to_json(&s, req.p, req.len));
  assert_true(s.failed);
  assert_int_equal(c.flushes, 3); /* never asked again */
  rtt_json_sink_release(&s);
  free(c.buf);
  free(req.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_request_is_written_as_the_reference_writes_it),
      cmocka_unit_test(test_empty_requests),
      cmocka_unit_test(test_random_requests_are_written_as_the_reference_writes_them),
      cmocka_unit_test(test_damaged_requests_are_refused_as_protobuf_c_refuses_them),
      cmocka_unit_test(test_fields_given_twice_follow_protobuf),
      cmocka_unit_test(test_resource_and_scope_given_twice_merge),
      cmocka_unit_test(test_long_strings_are_written_whole_whatever_the_cut),
      cmocka_unit_test(test_long_ids_and_bytes_are_written_whole),
      cmocka_unit_test(test_check_refuses_what_protobuf_c_refuses),
      cmocka_unit_test(test_check_limits_the_depth_exactly),
      cmocka_unit_test(test_check_counts_spans_in_every_scope),
      cmocka_unit_test(test_sink_buffer_never_grows),
      cmocka_unit_test(test_failed_flush_stops_the_conversion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
