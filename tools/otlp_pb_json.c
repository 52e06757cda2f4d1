/* OTLP protobuf -> OTLP/JSON (see otlp_pb_json.h). */
#include "export/otlp_pb.h"
#include "otlp_pb_json.h"

#include <string.h>


/* protobuf-c gives "" for an absent string; a hand-made message may hold
 * NULL. */
static const char *str_or_empty(const char *s) { return s ? s : ""; }

static void put_str_field(rpct__json_buf *b, bool *first, const char *name, const char *s) {
  if (!s || !*s) return;
  rpct__json_key(b, first, name);
  rpct__json_cstr(b, s);
}

static void put_uint_field(rpct__json_buf *b, bool *first, const char *name, uint32_t v) {
  if (v == 0) return;
  rpct__json_key(b, first, name);
  rpct__json_u32(b, v);
}

static void put_id(rpct__json_buf *b, bool *first, const char *name, ProtobufCBinaryData id) {
  rpct__json_key(b, first, name);
  rpct__json_hex(b, id.len ? id.data : NULL, id.len);
}

static void put_key_values(rpct__json_buf *b, pb_kv *const *kvs, size_t n, unsigned depth);

/* AnyValue at message depth `depth`. */
static void put_any(rpct__json_buf *b, const pb_any *v, unsigned depth) {
  rpct__json_char(b, '{');
  if (!v || depth > RTT_OTLP_MAX_DEPTH) {
    rpct__json_char(b, '}');
    return;
  }
  switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
      RPCT__JSON_LIT(b, "\"stringValue\":");
      rpct__json_cstr(b, str_or_empty(v->string_value));
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
      RPCT__JSON_LIT(b, "\"boolValue\":");
      rpct__json_bool(b, v->bool_value);
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
      RPCT__JSON_LIT(b, "\"intValue\":");
      rpct__json_i64_str(b, v->int_value);
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
      RPCT__JSON_LIT(b, "\"doubleValue\":");
      rpct__json_double(b, v->double_value);
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
      /* {"arrayValue":{"values":[...]}}; an empty array is {"arrayValue":{}}. */
      RPCT__JSON_LIT(b, "\"arrayValue\":{");
      const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
      if (a && a->n_values) {
        RPCT__JSON_LIT(b, "\"values\":[");
        for (size_t i = 0; i < a->n_values; i++) {
          if (i) rpct__json_char(b, ',');
          put_any(b, a->values[i], depth + 2);
        }
        rpct__json_char(b, ']');
      }
      rpct__json_char(b, '}');
      break;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
      RPCT__JSON_LIT(b, "\"kvlistValue\":{");
      const Opentelemetry__Proto__Common__V1__KeyValueList *l = v->kvlist_value;
      if (l && l->n_values) {
        RPCT__JSON_LIT(b, "\"values\":");
        put_key_values(b, l->values, l->n_values, depth + 2);
      }
      rpct__json_char(b, '}');
      break;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
      RPCT__JSON_LIT(b, "\"bytesValue\":");
      rpct__json_base64(b, v->bytes_value.len ? v->bytes_value.data : NULL, v->bytes_value.len);
      break;
    default: break; /* not set: an empty AnyValue */
  }
  rpct__json_char(b, '}');
}

/* [KeyValue...] whose KeyValues sit at message depth `depth`. */
static void put_key_values(rpct__json_buf *b, pb_kv *const *kvs, size_t n, unsigned depth) {
  rpct__json_char(b, '[');
  for (size_t i = 0; i < n; i++) {
    const pb_kv *kv = kvs[i];
    if (i) rpct__json_char(b, ',');
    RPCT__JSON_LIT(b, "{\"key\":");
    rpct__json_cstr(b, kv ? str_or_empty(kv->key) : "");
    RPCT__JSON_LIT(b, ",\"value\":");
    put_any(b, kv ? kv->value : NULL, depth + 1);
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, ']');
}

static void put_attributes(rpct__json_buf *b, bool *first, pb_kv *const *kvs, size_t n,
                           unsigned depth) {
  if (n == 0) return;
  rpct__json_key(b, first, "attributes");
  put_key_values(b, kvs, n, depth);
}

static void put_events(rpct__json_buf *b, bool *first, const pb_span *s) {
  if (s->n_events == 0) return;
  rpct__json_key(b, first, "events");
  rpct__json_char(b, '[');
  for (size_t i = 0; i < s->n_events; i++) {
    const pb_event *ev = s->events[i];
    bool f = true;
    if (i) rpct__json_char(b, ',');
    rpct__json_char(b, '{');
    if (ev) {
      if (ev->time_unix_nano) {
        rpct__json_key(b, &f, "timeUnixNano");
        rpct__json_u64_str(b, ev->time_unix_nano);
      }
      put_str_field(b, &f, "name", ev->name);
      /* request 1, ResourceSpans 2, ScopeSpans 3, Span 4, Event 5, KeyValue 6 */
      put_attributes(b, &f, ev->attributes, ev->n_attributes, 6);
      put_uint_field(b, &f, "droppedAttributesCount", ev->dropped_attributes_count);
    }
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, ']');
}

static void put_links(rpct__json_buf *b, bool *first, const pb_span *s) {
  if (s->n_links == 0) return;
  rpct__json_key(b, first, "links");
  rpct__json_char(b, '[');
  for (size_t i = 0; i < s->n_links; i++) {
    const pb_link *l = s->links[i];
    bool f = true;
    if (i) rpct__json_char(b, ',');
    rpct__json_char(b, '{');
    if (l) {
      put_id(b, &f, "traceId", l->trace_id);
      put_id(b, &f, "spanId", l->span_id);
      put_str_field(b, &f, "traceState", l->trace_state);
      put_attributes(b, &f, l->attributes, l->n_attributes, 6);
      put_uint_field(b, &f, "droppedAttributesCount", l->dropped_attributes_count);
      put_uint_field(b, &f, "flags", l->flags);
    }
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, ']');
}

/* Members in trace.proto's declaration order, as the exporter writes them. */
static void put_span(rpct__json_buf *b, const pb_span *s) {
  bool f = true;
  rpct__json_char(b, '{');
  if (!s) {
    rpct__json_char(b, '}');
    return;
  }
  put_id(b, &f, "traceId", s->trace_id);
  put_id(b, &f, "spanId", s->span_id);
  put_str_field(b, &f, "traceState", s->trace_state);
  if (s->parent_span_id.len) put_id(b, &f, "parentSpanId", s->parent_span_id);
  rpct__json_key(b, &f, "flags");
  rpct__json_u32(b, s->flags);
  rpct__json_key(b, &f, "name");
  rpct__json_cstr(b, str_or_empty(s->name));
  rpct__json_key(b, &f, "kind");
  rpct__json_u32(b, (uint32_t)s->kind);
  rpct__json_key(b, &f, "startTimeUnixNano");
  rpct__json_u64_str(b, s->start_time_unix_nano);
  rpct__json_key(b, &f, "endTimeUnixNano");
  rpct__json_u64_str(b, s->end_time_unix_nano);
  put_attributes(b, &f, s->attributes, s->n_attributes, 5);
  put_uint_field(b, &f, "droppedAttributesCount", s->dropped_attributes_count);
  put_events(b, &f, s);
  put_uint_field(b, &f, "droppedEventsCount", s->dropped_events_count);
  put_links(b, &f, s);
  put_uint_field(b, &f, "droppedLinksCount", s->dropped_links_count);
  const pb_status *st = s->status;
  if (st && (st->code != 0 || (st->message && *st->message))) {
    bool sf = true;
    rpct__json_key(b, &f, "status");
    rpct__json_char(b, '{');
    put_str_field(b, &sf, "message", st->message);
    put_uint_field(b, &sf, "code", (uint32_t)st->code);
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, '}');
}

static void put_scope_spans(rpct__json_buf *b, const pb_scope_spans *ss) {
  bool f = true;
  rpct__json_char(b, '{');
  if (!ss) {
    rpct__json_char(b, '}');
    return;
  }
  const pb_scope *sc = ss->scope;
  if (sc && ((sc->name && *sc->name) || (sc->version && *sc->version) || sc->n_attributes ||
             sc->dropped_attributes_count)) {
    bool sf = true;
    rpct__json_key(b, &f, "scope");
    rpct__json_char(b, '{');
    put_str_field(b, &sf, "name", sc->name);
    put_str_field(b, &sf, "version", sc->version);
    put_attributes(b, &sf, sc->attributes, sc->n_attributes, 5);
    put_uint_field(b, &sf, "droppedAttributesCount", sc->dropped_attributes_count);
    rpct__json_char(b, '}');
  }
  rpct__json_key(b, &f, "spans");
  rpct__json_char(b, '[');
  for (size_t k = 0; k < ss->n_spans; k++) {
    if (k) rpct__json_char(b, ',');
    put_span(b, ss->spans[k]);
  }
  rpct__json_char(b, ']');
  put_str_field(b, &f, "schemaUrl", ss->schema_url);
  rpct__json_char(b, '}');
}

static void put_resource_spans(rpct__json_buf *b, const pb_resource_spans *rs) {
  bool f = true;
  rpct__json_char(b, '{');
  if (!rs) {
    rpct__json_char(b, '}');
    return;
  }
  const pb_resource *r = rs->resource;
  if (r && (r->n_attributes || r->dropped_attributes_count)) {
    bool rf = true;
    rpct__json_key(b, &f, "resource");
    rpct__json_char(b, '{');
    put_attributes(b, &rf, r->attributes, r->n_attributes, 4);
    put_uint_field(b, &rf, "droppedAttributesCount", r->dropped_attributes_count);
    rpct__json_char(b, '}');
  }
  rpct__json_key(b, &f, "scopeSpans");
  rpct__json_char(b, '[');
  for (size_t j = 0; j < rs->n_scope_spans; j++) {
    if (j) rpct__json_char(b, ',');
    put_scope_spans(b, rs->scope_spans[j]);
  }
  rpct__json_char(b, ']');
  put_str_field(b, &f, "schemaUrl", rs->schema_url);
  rpct__json_char(b, '}');
}

void rtt_otlp_request_to_json(rpct__json_buf *b, const rtt_pb_request *req) {
  RPCT__JSON_LIT(b, "{\"resourceSpans\":[");
  for (size_t i = 0; req && i < req->n_resource_spans; i++) {
    if (i) rpct__json_char(b, ',');
    put_resource_spans(b, req->resource_spans[i]);
  }
  RPCT__JSON_LIT(b, "]}");
}

size_t rtt_otlp_request_span_count(const rtt_pb_request *req) {
  size_t n = 0;
  for (size_t i = 0; req && i < req->n_resource_spans; i++) {
    const pb_resource_spans *rs = req->resource_spans[i];
    for (size_t j = 0; rs && j < rs->n_scope_spans; j++)
      if (rs->scope_spans[j]) n += rs->scope_spans[j]->n_spans;
  }
  return n;
}

/* ---- nesting check on the wire ---- */

/* The message types of OTLP trace requests, and for each the fields that
 * hold messages (field number -> type). Every other field is a scalar,
 * string or bytes, skipped by its wire type. */
typedef enum msg_type {
  M_NONE,
  M_REQUEST,
  M_RESOURCE_SPANS,
  M_RESOURCE,
  M_SCOPE_SPANS,
  M_SCOPE,
  M_SPAN,
  M_EVENT,
  M_LINK,
  M_STATUS,
  M_KEY_VALUE,
  M_ANY_VALUE,
  M_ARRAY_VALUE,
  M_KVLIST
} msg_type;

static msg_type field_type(msg_type m, uint64_t field) {
  switch (m) {
    case M_REQUEST: return field == 1 ? M_RESOURCE_SPANS : M_NONE;
    case M_RESOURCE_SPANS: return field == 1 ? M_RESOURCE : field == 2 ? M_SCOPE_SPANS : M_NONE;
    case M_RESOURCE: return field == 1 ? M_KEY_VALUE : M_NONE;
    case M_SCOPE_SPANS: return field == 1 ? M_SCOPE : field == 2 ? M_SPAN : M_NONE;
    case M_SCOPE: return field == 3 ? M_KEY_VALUE : M_NONE;
    case M_SPAN:
      switch (field) {
        case 9: return M_KEY_VALUE;
        case 11: return M_EVENT;
        case 13: return M_LINK;
        case 15: return M_STATUS;
        default: return M_NONE;
      }
    case M_EVENT: return field == 3 ? M_KEY_VALUE : M_NONE;
    case M_LINK: return field == 4 ? M_KEY_VALUE : M_NONE;
    case M_KEY_VALUE: return field == 2 ? M_ANY_VALUE : M_NONE;
    case M_ANY_VALUE: return field == 5 ? M_ARRAY_VALUE : field == 6 ? M_KVLIST : M_NONE;
    case M_ARRAY_VALUE: return field == 1 ? M_ANY_VALUE : M_NONE;
    case M_KVLIST: return field == 1 ? M_KEY_VALUE : M_NONE;
    case M_STATUS:
    case M_NONE: break;
  }
  return M_NONE;
}

/* A base-128 varint at *p (< end); false when truncated or too long. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t byte = *(*p)++;
    v |= (uint64_t)(byte & 0x7F) << shift;
    if (!(byte & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* One open message on the walk: its type and where its bytes end. */
typedef struct frame {
  msg_type type;
  const uint8_t *end;
} frame;

bool rtt_otlp_wire_depth_ok(const uint8_t *data, size_t len, unsigned max_depth) {
  frame stack[RTT_OTLP_MAX_DEPTH + 1];
  if (max_depth == 0 || max_depth > RTT_OTLP_MAX_DEPTH) max_depth = RTT_OTLP_MAX_DEPTH;
  if (!data) return true;
  const uint8_t *p = data;
  unsigned depth = 1;
  stack[0] = (frame){M_REQUEST, data + len};
  while (depth > 0) {
    frame *top = &stack[depth - 1];
    if (p >= top->end) {
      /* A submessage overrunning its parent is malformed: protobuf-c's. */
      if (p > top->end) return true;
      depth--;
      continue;
    }
    uint64_t key;
    if (!read_varint(&p, top->end, &key)) return true;
    uint64_t field = key >> 3;
    switch (key & 7) {
      case 0: {
        uint64_t ignored;
        if (!read_varint(&p, top->end, &ignored)) return true;
        break;
      }
      case 1:
        if ((size_t)(top->end - p) < 8) return true;
        p += 8;
        break;
      case 5:
        if ((size_t)(top->end - p) < 4) return true;
        p += 4;
        break;
      case 2: {
        uint64_t n;
        if (!read_varint(&p, top->end, &n) || n > (uint64_t)(top->end - p)) return true;
        msg_type sub = field_type(top->type, field);
        if (sub == M_NONE) {
          p += n;
          break;
        }
        if (depth >= max_depth) return false;
        stack[depth++] = (frame){sub, p + n};
        break;
      }
      default: return true; /* groups or invalid wire types: malformed */
    }
  }
  return true;
}
