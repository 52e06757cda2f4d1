/*
 * A request with every field of every OTLP trace message set, built from
 * protobuf-c structs, and the exact OTLP/JSON line for it: shared by the
 * tests of the reference converter (test_pb_json.c) and of the streaming
 * one (test_wire_json.c), which must both write it.
 */
#ifndef RPCTRACE_TESTS_TOOLS_FULL_REQUEST_H
#define RPCTRACE_TESTS_TOOLS_FULL_REQUEST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "export/otlp_pb.h"
#include "otlp_pb_json.h"

static uint8_t trace_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t span_id[8] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static uint8_t parent_id[8] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};
static uint8_t link_trace[16] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
                                 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};
static uint8_t link_span[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};
static uint8_t raw_bytes[3] = {0x00, 0xff, 0x10};

static const char full_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"svc\"}}],\"droppedAttributesCount\":1},\"scopeSpans\":[{\"scope\":"
    "{\"name\":\"lib\",\"version\":\"1.2\",\"attributes\":[{\"key\":\"k\",\"value\":"
    "{\"intValue\":\"7\"}}]},\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
    "\"spanId\":\"a1a2a3a4a5a6a7a8\",\"traceState\":\"k=v\",\"parentSpanId\":\"b1b2b3b4b5b6b7b8\","
    "\"flags\":769,\"name\":\"op\",\"kind\":2,\"startTimeUnixNano\":\"1700000000000000001\","
    "\"endTimeUnixNano\":\"18446744073709551615\",\"attributes\":["
    "{\"key\":\"s\",\"value\":{\"stringValue\":\"h\\\"i\\n\\u0001\xC3\xA9\"}},"
    "{\"key\":\"b\",\"value\":{\"boolValue\":false}},"
    "{\"key\":\"i\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
    "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},"
    "{\"intValue\":\"1\"},{\"arrayValue\":{}}]}}},"
    "{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\",\"value\":"
    "{\"boolValue\":true}}]}}},"
    "{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"AP8Q\"}},"
    "{\"key\":\"empty\",\"value\":{}},"
    "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
    "{\"key\":\"bad utf8\",\"value\":{\"stringValue\":\"a\xef\xbf\xbd" "b\"}}],"
    "\"droppedAttributesCount\":3,\"events\":[{\"timeUnixNano\":\"1700000000000000001\","
    "\"name\":\"ev\",\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":\"1\"}}],"
    "\"droppedAttributesCount\":2}],\"droppedEventsCount\":4,\"links\":[{\"traceId\":"
    "\"1112131415161718191a1b1c1d1e1f20\",\"spanId\":\"c1c2c3c4c5c6c7c8\",\"traceState\":"
    "\"a=b\",\"attributes\":[{\"key\":\"l\",\"value\":{\"stringValue\":\"v\"}}],"
    "\"droppedAttributesCount\":5,\"flags\":1}],\"droppedLinksCount\":6,\"status\":"
    "{\"message\":\"bad\",\"code\":2}}],\"schemaUrl\":\"s2\"}],\"schemaUrl\":\"s1\"}]}";

/* All the parts of the full request, linked by build_full(). */
typedef struct full {
  rtt_pb_request req;
  pb_resource_spans rs, *rs_p[1];
  pb_resource res;
  pb_kv res_kv, *res_kv_p[1];
  pb_any res_any;
  pb_scope_spans ss, *ss_p[1];
  pb_scope scope;
  pb_kv scope_kv, *scope_kv_p[1];
  pb_any scope_any;
  pb_span span, *span_p[1];
  pb_kv kv[10], *kv_p[10];
  pb_any any[10];
  pb_array arr, inner_arr;
  pb_any arr_items[3], *arr_items_p[3];
  pb_kvlist kvlist;
  pb_kv in_kv, *in_kv_p[1];
  pb_any in_any;
  pb_event ev, *ev_p[1];
  pb_kv ev_kv, *ev_kv_p[1];
  pb_any ev_any;
  pb_link link, *link_p[1];
  pb_kv link_kv, *link_kv_p[1];
  pb_any link_any;
  pb_status status;
} full;

static inline void set_kv(pb_kv *kv, pb_kv **p, pb_any *any, const char *key) {
  opentelemetry__proto__common__v1__key_value__init(kv);
  opentelemetry__proto__common__v1__any_value__init(any);
  kv->key = (char *)key;
  kv->value = any;
  *p = kv;
}

static inline void any_str(pb_any *a, const char *s) {
  a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  a->string_value = (char *)s;
}

static inline void any_int(pb_any *a, int64_t v) {
  a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  a->int_value = v;
}

static inline void build_full(full *f) {
  memset(f, 0, sizeof *f);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&f->req);
  opentelemetry__proto__trace__v1__resource_spans__init(&f->rs);
  opentelemetry__proto__resource__v1__resource__init(&f->res);
  opentelemetry__proto__trace__v1__scope_spans__init(&f->ss);
  opentelemetry__proto__common__v1__instrumentation_scope__init(&f->scope);
  opentelemetry__proto__trace__v1__span__init(&f->span);
  opentelemetry__proto__trace__v1__span__event__init(&f->ev);
  opentelemetry__proto__trace__v1__span__link__init(&f->link);
  opentelemetry__proto__trace__v1__status__init(&f->status);

  f->req.n_resource_spans = 1;
  f->req.resource_spans = f->rs_p;
  f->rs_p[0] = &f->rs;
  f->rs.resource = &f->res;
  f->rs.schema_url = (char *)"s1";
  set_kv(&f->res_kv, f->res_kv_p, &f->res_any, "service.name");
  any_str(&f->res_any, "svc");
  f->res.n_attributes = 1;
  f->res.attributes = f->res_kv_p;
  f->res.dropped_attributes_count = 1;
  f->rs.n_scope_spans = 1;
  f->rs.scope_spans = f->ss_p;
  f->ss_p[0] = &f->ss;
  f->ss.scope = &f->scope;
  f->ss.schema_url = (char *)"s2";
  f->scope.name = (char *)"lib";
  f->scope.version = (char *)"1.2";
  set_kv(&f->scope_kv, f->scope_kv_p, &f->scope_any, "k");
  any_int(&f->scope_any, 7);
  f->scope.n_attributes = 1;
  f->scope.attributes = f->scope_kv_p;
  f->ss.n_spans = 1;
  f->ss.spans = f->span_p;
  f->span_p[0] = &f->span;

  pb_span *s = &f->span;
  s->trace_id = (ProtobufCBinaryData){16, trace_id};
  s->span_id = (ProtobufCBinaryData){8, span_id};
  s->parent_span_id = (ProtobufCBinaryData){8, parent_id};
  s->trace_state = (char *)"k=v";
  s->flags = 0x301;
  s->name = (char *)"op";
  s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
  s->start_time_unix_nano = UINT64_C(1700000000000000001);
  s->end_time_unix_nano = UINT64_MAX;

  static const char *const keys[10] = {"s",  "b",     "i",     "d",   "arr",
                                       "kv", "bytes", "empty", "nan", "bad utf8"};
  for (size_t i = 0; i < 10; i++) set_kv(&f->kv[i], &f->kv_p[i], &f->any[i], keys[i]);
  any_str(&f->any[0], "h\"i\n\x01\xC3\xA9");
  f->any[1].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  f->any[1].bool_value = 0;
  any_int(&f->any[2], INT64_MIN);
  f->any[3].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  f->any[3].double_value = 0.1;
  /* arr: ["x", 1, []] */
  opentelemetry__proto__common__v1__array_value__init(&f->arr);
  opentelemetry__proto__common__v1__array_value__init(&f->inner_arr);
  for (size_t i = 0; i < 3; i++) {
    opentelemetry__proto__common__v1__any_value__init(&f->arr_items[i]);
    f->arr_items_p[i] = &f->arr_items[i];
  }
  any_str(&f->arr_items[0], "x");
  any_int(&f->arr_items[1], 1);
  f->arr_items[2].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  f->arr_items[2].array_value = &f->inner_arr;
  f->arr.n_values = 3;
  f->arr.values = f->arr_items_p;
  f->any[4].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  f->any[4].array_value = &f->arr;
  /* kv: {in: true} */
  opentelemetry__proto__common__v1__key_value_list__init(&f->kvlist);
  set_kv(&f->in_kv, f->in_kv_p, &f->in_any, "in");
  f->in_any.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  f->in_any.bool_value = 1;
  f->kvlist.n_values = 1;
  f->kvlist.values = f->in_kv_p;
  f->any[5].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
  f->any[5].kvlist_value = &f->kvlist;
  f->any[6].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
  f->any[6].bytes_value = (ProtobufCBinaryData){3, raw_bytes};
  /* any[7] stays empty */
  f->any[8].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  f->any[8].double_value = NAN;
  any_str(&f->any[9],
          "a\xFF"
          "b");
  s->n_attributes = 10;
  s->attributes = f->kv_p;
  s->dropped_attributes_count = 3;

  f->ev.time_unix_nano = UINT64_C(1700000000000000001);
  f->ev.name = (char *)"ev";
  set_kv(&f->ev_kv, f->ev_kv_p, &f->ev_any, "n");
  any_int(&f->ev_any, 1);
  f->ev.n_attributes = 1;
  f->ev.attributes = f->ev_kv_p;
  f->ev.dropped_attributes_count = 2;
  f->ev_p[0] = &f->ev;
  s->n_events = 1;
  s->events = f->ev_p;
  s->dropped_events_count = 4;

  f->link.trace_id = (ProtobufCBinaryData){16, link_trace};
  f->link.span_id = (ProtobufCBinaryData){8, link_span};
  f->link.trace_state = (char *)"a=b";
  set_kv(&f->link_kv, f->link_kv_p, &f->link_any, "l");
  any_str(&f->link_any, "v");
  f->link.n_attributes = 1;
  f->link.attributes = f->link_kv_p;
  f->link.dropped_attributes_count = 5;
  f->link.flags = 1;
  f->link_p[0] = &f->link;
  s->n_links = 1;
  s->links = f->link_p;
  s->dropped_links_count = 6;

  f->status.message = (char *)"bad";
  f->status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
  s->status = &f->status;
}

#endif /* RPCTRACE_TESTS_TOOLS_FULL_REQUEST_H */
